// Unit tests for the capability probe on fake tracefs/proc/sys trees, including the refusals a
// non-root or read-only environment produces (injected, since the tests run as root).
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeCapabilities, type ProbeOptions } from './probe.js';

const FORMAT = (withReason: boolean): string =>
  [
    'name: kfree_skb',
    'ID: 2310',
    'format:',
    '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;',
    '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;',
    '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;',
    '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;',
    '',
    '\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;',
    '\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;',
    '\tfield:unsigned short protocol;\toffset:24;\tsize:2;\tsigned:0;',
    ...(withReason ? ['\tfield:enum skb_drop_reason reason;\toffset:28;\tsize:4;\tsigned:0;'] : []),
    '',
    withReason
      ? 'print fmt: "skbaddr=%p protocol=%u location=%pS reason: %s", REC->skbaddr, REC->protocol, REC->location, __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" })'
      : 'print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location',
    '',
  ].join('\n');

let root: string;
let base: ProbeOptions;

async function tracefs(opts: { hist?: boolean; reason?: boolean; instances?: boolean } = {}): Promise<string> {
  const t = path.join(root, 'tracing');
  const ev = path.join(t, 'events/skb/kfree_skb');
  await mkdir(ev, { recursive: true });
  await writeFile(path.join(ev, 'format'), FORMAT(opts.reason ?? true));
  await writeFile(path.join(ev, 'trigger'), '');
  if (opts.hist === true) await writeFile(path.join(ev, 'hist'), '');
  if (opts.instances !== false) await mkdir(path.join(t, 'instances'));
  return t;
}

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'dwo-probe-'));
  await mkdir(path.join(root, 'proc/sys/kernel'), { recursive: true });
  await mkdir(path.join(root, 'sys/module'), { recursive: true });
  await writeFile(path.join(root, 'proc/kallsyms'), 'ffffffff81000000 T _stext\nffffffff81000100 T other\n');
  base = {
    procRoot: path.join(root, 'proc'),
    sysRoot: path.join(root, 'sys'),
    modulesRoot: path.join(root, 'lib/modules'),
    release: '6.18.0-test',
    pid: 4242,
    uid: 0,
    ethtoolDirs: [path.join(root, 'bin')],
  };
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('probeCapabilities on a fake tree', () => {
  it('finds a writable tracefs with kfree_skb and its reason, and cleans up', async () => {
    const t = await tracefs();
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps).toEqual({
      tracefs: { available: true, writable: true, path: t },
      kfreeSkb: { available: true, reasonField: true },
      kallsyms: { visible: true },
      histTriggers: false,
      dropMonitor: false,
      ethtool: false,
    });
    expect(await readdir(path.join(t, 'instances'))).toEqual([]);
  });

  it('sees hist triggers, drop_monitor and ethtool', async () => {
    const t = await tracefs({ hist: true });
    await mkdir(path.join(root, 'sys/module/drop_monitor'));
    await mkdir(path.join(root, 'bin'));
    await writeFile(path.join(root, 'bin/ethtool'), '#!/bin/sh\n');
    await chmod(path.join(root, 'bin/ethtool'), 0o755);
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps.histTriggers).toBe(true);
    expect(caps.dropMonitor).toBe(true);
    expect(caps.ethtool).toBe(true);
  });

  it('finds a built-in drop_monitor in modules.builtin', async () => {
    const t = await tracefs();
    await mkdir(path.join(root, 'lib/modules/6.18.0-test'), { recursive: true });
    await writeFile(path.join(root, 'lib/modules/6.18.0-test/modules.builtin'), 'kernel/net/core/drop_monitor.ko\n');
    expect((await probeCapabilities({ ...base, tracefsRoot: t })).dropMonitor).toBe(true);
  });

  it('reports a kernel without the reason field', async () => {
    const t = await tracefs({ reason: false });
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps.kfreeSkb).toMatchObject({ available: true, reasonField: false, detail: expect.stringMatching(/5\.17/) as unknown });
  });

  it('explains a missing tracefs', async () => {
    const caps = await probeCapabilities({ ...base, tracefsRoot: path.join(root, 'nothing') });
    expect(caps.tracefs.available).toBe(false);
    expect(caps.tracefs.detail).toMatch(/not mounted.*mount -t tracefs/);
    expect(caps.kfreeSkb.available).toBe(false);
  });

  it('explains a tracefs without instances', async () => {
    const t = await tracefs({ instances: false });
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps.tracefs).toMatchObject({ available: true, writable: false, detail: expect.stringMatching(/no instances directory/) as unknown });
  });

  it('says "not root" when the kernel refuses the probe instance', async () => {
    const t = await tracefs();
    const refuse = (code: string) => ({
      mkdir: () => Promise.reject(Object.assign(new Error(code), { code })),
      rmdir: () => Promise.resolve(),
    });
    const user = await probeCapabilities({ ...base, tracefsRoot: t, uid: 1000, dirOps: refuse('EACCES') });
    expect(user.tracefs).toEqual({ available: true, writable: false, path: t, detail: expect.stringMatching(/^not root \(euid 1000\): run the agent as root/) as unknown });
    const rootInContainer = await probeCapabilities({ ...base, tracefsRoot: t, uid: 0, dirOps: refuse('EPERM') });
    expect(rootInContainer.tracefs.detail).toMatch(/lacks CAP_SYS_ADMIN/);
    const readOnly = await probeCapabilities({ ...base, tracefsRoot: t, dirOps: refuse('EROFS') });
    expect(readOnly.tracefs.detail).toMatch(/read-only/);
  });

  it('replaces a leftover probe instance', async () => {
    const t = await tracefs();
    await mkdir(path.join(t, 'instances/dropwatch-probe-4242'));
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps.tracefs.writable).toBe(true);
    expect(await readdir(path.join(t, 'instances'))).toEqual([]);
  });

  it('reports hidden kallsyms', async () => {
    const t = await tracefs();
    await writeFile(path.join(root, 'proc/kallsyms'), '0000000000000000 T _stext\n0000000000000000 T other\n');
    await writeFile(path.join(root, 'proc/sys/kernel/kptr_restrict'), '2\n');
    const caps = await probeCapabilities({ ...base, tracefsRoot: t });
    expect(caps.kallsyms).toEqual({ visible: false, detail: expect.stringMatching(/kptr_restrict=2/) as unknown });
  });
});
