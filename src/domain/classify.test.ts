import { describe, expect, it } from 'vitest';
import { classifyDrop } from './classify.js';

describe('classifyDrop', () => {
  it.each([
    ['NO_SOCKET', '__udp4_lib_rcv', 'transport', false, /no socket/i],
    ['SOCKET_RCVBUFF', '__udp_enqueue_schedule_skb', 'socket', true, /rmem_max/],
    ['NETFILTER_DROP', 'nf_hook_slow', 'netfilter', false, /netfilter/],
    ['OTHERHOST', 'ip_rcv_core', 'ip', false, /ignoreReasons/],
    ['CPU_BACKLOG', 'enqueue_to_backlog', 'backlog', true, /netdev_max_backlog/],
    ['FULL_RING', 'veth_xmit', 'driver', true, /ethtool -G/],
    ['PACKET_SOCK_ERROR', 'tpacket_rcv', 'capture', true, /fanout/],
    ['TCP_OLD_DATA', 'tcp_validate_incoming', 'transport', false, /TCP/],
    ['QDISC_DROP', 'dev_qdisc_enqueue', 'driver', true, /txqueuelen/],
    ['NEIGH_QUEUEFULL', 'neigh_resolve_output', 'ip', true, /unres_qlen/],
    ['IP_TUNNEL_ECN', 'ip_tunnel_rcv', 'driver', false, /tunnel/],
    ['IP_INHDR', 'ip_rcv_core', 'ip', false, /IP validation/],
    ['TC_INGRESS', 'tcf_classify', 'netfilter', false, /tc/],
  ] as const)('%s at %s is %s', (reason, symbol, layer, actionable, hint) => {
    const c = classifyDrop(reason, symbol);
    expect(c.layer).toBe(layer);
    expect(c.classifiedBy).toBe('reason');
    expect(c.actionable).toBe(actionable);
    expect(c.hint).toMatch(hint);
  });

  it.each([
    ['tpacket_rcv', 'capture'],
    ['enqueue_to_backlog', 'backlog'],
    ['nf_hook_slow', 'netfilter'],
    ['sk_filter_trim_cap', 'socket'],
    ['__udp4_lib_rcv', 'transport'],
    ['ip_rcv_finish_core.constprop.0', 'ip'],
    ['__netif_receive_skb_core.constprop.0', 'driver'],
  ] as const)('NOT_SPECIFIED at %s is classified by location as %s', (symbol, layer) => {
    const c = classifyDrop('NOT_SPECIFIED', symbol);
    expect(c.layer).toBe(layer);
    expect(c.classifiedBy).toBe('location');
    expect(c.hint).toContain(symbol);
  });

  it('NOMEM takes its layer from the location and keeps the memory remedy', () => {
    const c = classifyDrop('NOMEM', '__alloc_skb');
    expect(c.layer).toBe('driver');
    expect(c.classifiedBy).toBe('location');
    expect(c.hint).toMatch(/min_free_kbytes/);
  });

  it('an unknown site says so instead of guessing silently', () => {
    const c = classifyDrop('NOT_SPECIFIED', '0xffffffffc0001234');
    expect(c.classifiedBy).toBe('default');
    expect(c.hint).toMatch(/unclassified site/);
  });

  it('a reason from a newer kernel still gets a layer by prefix', () => {
    expect(classifyDrop('TCP_SOMETHING_NEW', 'tcp_v4_rcv').layer).toBe('transport');
    expect(classifyDrop('SUBSYS_3:7', 'mac80211_rx').classifiedBy).not.toBe('reason');
  });
});
