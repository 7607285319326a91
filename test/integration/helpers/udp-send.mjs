// Sends COUNT UDP datagrams to HOST:PORT, in bursts small enough that loopback's per-CPU backlog
// never overflows, and prints the number sent. Used by the kernel tests (run directly or inside
// a test network namespace with `ip netns exec`). Usage: udp-send.mjs HOST PORT COUNT [BURST]
import dgram from 'node:dgram';

const [host, portS, countS, burstS] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const burst = Number(burstS ?? 50);
if (!host || !(port > 0) || !(count >= 0)) {
  console.error('usage: udp-send.mjs HOST PORT COUNT [BURST]');
  process.exit(2);
}
const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const payload = Buffer.alloc(32, 0x61);
let sent = 0;
while (sent < count) {
  const n = Math.min(burst, count - sent);
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => sock.send(payload, port, host, (err) => (err ? reject(err) : resolve())))));
  sent += n;
  // Let softirq processing catch up between bursts.
  await new Promise((r) => setImmediate(r));
}
sock.close();
process.stdout.write(`${sent}\n`);
