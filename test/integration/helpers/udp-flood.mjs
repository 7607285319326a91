// Sends UDP datagrams to HOST:PORT at a steady RATE per second (in 10 ms slices) for SECONDS
// seconds, or until SIGTERM/SIGINT when SECONDS is 0, then prints the number sent. Aimed at a
// closed port, every datagram is one kernel drop (__udp4_lib_rcv, NO_SOCKET) at a known rate.
// Used by the e2e test and hack/demo.sh. Usage: udp-flood.mjs HOST PORT RATE [SECONDS]
import dgram from 'node:dgram';

const [host, portS, rateS, secondsS] = process.argv.slice(2);
const port = Number(portS);
const rate = Number(rateS);
const seconds = Number(secondsS ?? 0);
if (!host || !(port > 0) || !(rate > 0) || !(seconds >= 0)) {
  console.error('usage: udp-flood.mjs HOST PORT RATE [SECONDS]');
  process.exit(2);
}
const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
const payload = Buffer.alloc(32, 0x62);
const start = Date.now();
let sent = 0;
let done = false;
const finish = () => {
  if (done) return;
  done = true;
  sock.close();
  process.stdout.write(`${sent}\n`);
};
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
while (!done) {
  const elapsed = (Date.now() - start) / 1000;
  if (seconds > 0 && elapsed >= seconds) break;
  // Catch up to where the rate says we should be; bounded so a stall never turns into a burst.
  const due = Math.min(Math.floor(elapsed * rate) - sent, Math.ceil(rate / 50));
  for (let k = 0; k < due; k++) sock.send(payload, port, host);
  sent += Math.max(due, 0);
  await new Promise((r) => setTimeout(r, 10));
}
finish();
