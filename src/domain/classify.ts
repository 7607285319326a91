// Maps a kernel drop (reason name, and the freeing function when the reason says nothing) to the
// receive-path layer it happened in and to the knob a person would tune. Pure; called by the
// aggregation (agent) and by tests. Facts: reference/kernel.md section 7, include/net/dropreason-core.h.
import type { Layer } from './types.js';

/** How a layer was decided: from the drop reason, from the freeing function, or a default. */
export type ClassifiedBy = 'reason' | 'location' | 'default';

export interface Classification {
  readonly layer: Layer;
  readonly classifiedBy: ClassifiedBy;
  /** One sentence: the limit that was hit and the concrete knob, or "expected" for benign drops. */
  readonly hint: string;
  /** False for drops that are normal on a sensor (policy, validation, no listener, not for us). */
  readonly actionable: boolean;
}

interface ReasonRule {
  readonly layer: Layer | 'by-location';
  readonly hint: string;
  readonly actionable: boolean;
}

const rule = (layer: Layer | 'by-location', actionable: boolean, hint: string): ReasonRule => ({ layer, hint, actionable });

// Exact reasons first; prefixes after. Numbers are never used: the kernel renumbers the enum.
const EXACT: ReadonlyMap<string, ReasonRule> = new Map<string, ReasonRule>([
  ['CPU_BACKLOG', rule('backlog', true, 'per-CPU backlog full: raise net.core.netdev_max_backlog (default 1000); spread load with RSS/RPS; check flow_limit_cpu_bitmap and flow_limit_table_len')],
  ['RECURSION_LIMIT', rule('backlog', true, 'device recursion limit hit: look for a loop of stacked devices (tunnels, bridges) on this path')],
  ['NOMEM', rule('by-location', true, 'an allocation failed: give the kernel memory headroom (vm.min_free_kbytes) and check for memory pressure on the node')],
  ['PFMEMALLOC', rule('socket', true, 'packet from emergency memory reserves dropped: the node is under memory pressure; raise vm.min_free_kbytes')],
  ['FULL_RING', rule('driver', true, 'device ring full: enlarge it with ethtool -G <if> rx <n> (veth/tun: txqueuelen) and check the consumer keeps up')],
  ['PACKET_SOCK_ERROR', rule('capture', true, 'AF_PACKET capture socket could not queue: enlarge the capture ring or socket buffer, add fanout workers, speed up the IDS')],
  ['SOCKET_RCVBUFF', rule('socket', true, 'socket receive buffer full: raise net.core.rmem_max and rmem_default (or SO_RCVBUF in the app) and make the reader faster')],
  ['SOCKET_BACKLOG', rule('socket', true, 'TCP socket backlog full: raise net.ipv4.tcp_rmem or make the application read faster')],
  ['PROTO_MEM', rule('socket', true, 'protocol memory limit reached: raise net.ipv4.udp_mem / net.ipv4.tcp_mem')],
  ['SKB_UCOPY_FAULT', rule('socket', false, 'copy to user space faulted: a bug or a bad buffer in the receiving application')],
  ['QUEUE_PURGE', rule('socket', false, 'queue purged on socket close: normal')],
  ['SOCKET_CLOSE', rule('socket', false, 'socket closed with data queued: normal at application exit')],
  ['SOCKET_FILTER', rule('socket', false, 'dropped by a socket BPF filter: intended by the filter; review it if unexpected')],
  ['UNIX_DISCONNECT', rule('socket', false, 'unix socket disconnected: normal')],
  ['UNIX_SKIP_OOB', rule('socket', false, 'unix out-of-band data skipped: normal')],
  ['NO_SOCKET', rule('transport', false, 'no socket listening on the destination port: usually benign (broadcasts, scans); expected on a sensor')],
  ['UDP_CSUM', rule('transport', false, 'bad UDP checksum: the sender or a NIC offload; benign on a sensor')],
  ['TCP_CSUM', rule('transport', false, 'bad TCP checksum: the sender or a NIC offload; benign on a sensor')],
  ['INVALID_PROTO', rule('transport', false, 'invalid protocol data: malformed traffic; benign on a sensor')],
  ['OTHERHOST', rule('ip', false, 'frame not addressed to this host (promiscuous/SPAN): expected; add OTHERHOST to ignoreReasons to filter it in the kernel')],
  ['PKT_TOO_SMALL', rule('ip', false, 'packet shorter than its headers: malformed traffic; benign on a sensor')],
  ['PKT_TOO_BIG', rule('ip', true, 'packet larger than the MTU: check MTU and offloads (GRO/LRO) on the path')],
  ['UNHANDLED_PROTO', rule('driver', false, 'ethertype with no handler and no tap: also counted in rx_dropped; noise unless a capture should see it')],
  ['CAKE_FLOOD', rule('driver', true, 'cake qdisc flood protection: review the qdisc limits')],
  ['DUALPI2_STEP_DROP', rule('driver', true, 'dualpi2 qdisc step drop: review the qdisc limits')],
  ['NO_TX_TARGET', rule('driver', false, 'no transmit target: a routing or device configuration issue')],
  ['UNICAST_IN_L2_MULTICAST', rule('ip', false, 'unicast IP in an L2 multicast frame: malformed traffic; benign')],
  ['ICMP_CSUM', rule('ip', false, 'bad ICMP checksum: benign on a sensor')],
  ['DUP_FRAG', rule('ip', false, 'duplicate IP fragment: benign unless frequent')],
  ['XDP', rule('netfilter', false, 'dropped by an XDP program: intended by the program; review it if unexpected')],
  ['NETFILTER_DROP', rule('netfilter', false, 'dropped by a netfilter (nftables/iptables) rule: intended by the rule set; review it if unexpected')],
  ['BPF_CGROUP_EGRESS', rule('netfilter', false, 'dropped by a cgroup BPF program: intended; review the program')],
  ['SECURITY_HOOK', rule('netfilter', false, 'dropped by an LSM hook: intended by the security policy')],
  ['XFRM_POLICY', rule('netfilter', false, 'IPsec policy check failed: review the xfrm policy')],
  ['IP_RPFILTER', rule('netfilter', false, 'reverse-path filter: set net.ipv4.conf.<if>.rp_filter=0 (or 2) on capture interfaces')],
]);

const PREFIX: ReadonlyArray<readonly [string, ReasonRule]> = [
  ['TC_', rule('netfilter', false, 'dropped by a tc filter or action: intended; review the tc rules')],
  ['PSP_', rule('netfilter', false, 'PSP encryption policy drop: review the policy')],
  ['QDISC_', rule('driver', true, 'transmit queue discipline full: raise txqueuelen or the qdisc limit (affects exports, not capture)')],
  ['FQ_', rule('driver', true, 'fq qdisc limit: raise the fq limits (affects exports, not capture)')],
  ['NEIGH_', rule('ip', true, 'neighbour (ARP/NDP) resolution failed or its queue was full: check the next hop; raise gc_thresh / unres_qlen if it is a limit')],
  ['IPV6_NDISC_', rule('ip', false, 'malformed IPv6 neighbour discovery: benign on a sensor')],
  ['IPV6', rule('ip', false, 'IPv6 handling: IPv6 is disabled or the header was bad; benign on a sensor')],
  ['IP_TUNNEL', rule('driver', false, 'tunnel ECN check failed: benign')],
  ['IP_OUTNOROUTES', rule('ip', true, 'no route for an outgoing packet: check the routing table (affects exports)')],
  ['IP_', rule('ip', false, 'IP validation or routing drop: malformed or misrouted traffic; benign on a sensor unless it is your own traffic')],
  ['FRAG_', rule('ip', true, 'IP reassembly gave up: raise net.ipv4.ipfrag_high_thresh / ipfrag_time if fragments are legitimate')],
  ['TCP_', rule('transport', false, 'TCP state or validation drop: normal protocol behaviour')],
  ['SKB_', rule('driver', false, 'skb checksum or segmentation failure: check NIC offloads (ethtool -K)')],
  ['DEV_', rule('driver', true, 'device not ready or bad link header: check link state and the driver')],
  ['HDR_TRUNC', rule('driver', false, 'truncated header: malformed traffic')],
  ['MAC_', rule('driver', false, 'MAC-level check failed: malformed or control frames; benign')],
  ['LOCAL_MAC', rule('driver', false, 'frame from our own MAC: a loop or reflection on the segment')],
  ['ARP_', rule('driver', false, 'ARP policy drop: intended')],
  ['BRIDGE_', rule('driver', false, 'bridge port state drop (STP): intended')],
  ['VXLAN_', rule('driver', false, 'VXLAN header or VNI not accepted: check the tunnel configuration')],
  ['TUNNEL_', rule('driver', false, 'tunnel transmit info missing: check the tunnel configuration')],
  ['TAP_', rule('driver', false, 'dropped by a tap device filter: intended')],
  ['CAN', rule('driver', false, 'invalid CAN frame: not IP traffic')],
];

interface LocationRule {
  readonly test: (symbol: string) => boolean;
  readonly layer: Layer;
  readonly hint: string;
}

const starts = (...prefixes: string[]) => (s: string) => prefixes.some((p) => s.startsWith(p));

// For NOT_SPECIFIED and NOMEM, the function that freed the skb says where it was.
const LOCATION: readonly LocationRule[] = [
  { test: starts('tpacket_rcv', 'packet_rcv', 'packet_'), layer: 'capture', hint: 'AF_PACKET capture path: enlarge the capture ring (tp_block_size x tp_block_nr), add fanout workers' },
  { test: starts('enqueue_to_backlog', 'netif_rx', 'process_backlog', 'rps_'), layer: 'backlog', hint: 'per-CPU backlog: raise net.core.netdev_max_backlog; spread load with RSS/RPS' },
  { test: starts('nf_', 'nft_', 'ipt_', 'ip6t_', 'ebt_', 'br_nf', 'xt_'), layer: 'netfilter', hint: 'netfilter: review the rule set; conntrack table full shows as nf_conntrack messages (raise net.netfilter.nf_conntrack_max)' },
  { test: starts('sk_filter', 'sock_queue_rcv_skb', '__sock_queue_rcv_skb', 'sock_rcvbuf', 'udp_queue_rcv', '__udp_enqueue', 'tcp_add_backlog', 'sk_'), layer: 'socket', hint: 'socket receive queue: raise net.core.rmem_max / SO_RCVBUF and make the reader faster' },
  { test: starts('__udp', 'udp', 'tcp', '__tcp', 'inet_', 'raw_', 'icmp'), layer: 'transport', hint: 'transport protocol handling' },
  { test: starts('ip_', 'ip6_', 'ipv6_', '__ip', 'ipv4_', 'arp_', 'neigh_', 'fib_'), layer: 'ip', hint: 'IP layer handling' },
  { test: starts('__netif_receive', 'netif_receive', '__dev', 'dev_', 'napi_', 'gro_', 'skb_', '__alloc_skb', 'alloc_skb', 'net_tx_action', 'veth_', 'virtnet', 'tun_', 'e1000', 'igb_', 'ixgbe', 'i40e', 'ice_', 'mlx', 'bnxt', 'sch_', 'qdisc'), layer: 'driver', hint: 'device or driver path: check ring sizes (ethtool -g/-G) and driver statistics (ethtool -S)' },
];

/**
 * Classifies one drop site.
 * @param reason reason name without the SKB_DROP_REASON_ prefix ("" when the kernel has none)
 * @param symbol the freeing function's name (or a hex address when unknown)
 */
export function classifyDrop(reason: string, symbol: string): Classification {
  const byReason = EXACT.get(reason) ?? PREFIX.find(([p]) => reason.startsWith(p))?.[1];
  if (byReason && byReason.layer !== 'by-location') {
    return { layer: byReason.layer, classifiedBy: 'reason', hint: byReason.hint, actionable: byReason.actionable };
  }
  const byLocation = LOCATION.find((r) => r.test(symbol));
  if (byReason) {
    // NOMEM: the layer is where the allocation failed; the remedy is the reason's.
    return { layer: byLocation?.layer ?? 'driver', classifiedBy: byLocation ? 'location' : 'default', hint: byReason.hint, actionable: true };
  }
  if (byLocation) {
    return { layer: byLocation.layer, classifiedBy: 'location', hint: `${byLocation.hint} (reason ${reason || 'not given'}; site ${symbol})`, actionable: true };
  }
  return {
    layer: 'ip',
    classifiedBy: 'default',
    hint: `unclassified site ${symbol} (reason ${reason || 'not given'}): look the function up in the kernel source to find which limit it enforces`,
    actionable: true,
  };
}
