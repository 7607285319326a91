// A TCP proxy between a client and the local API server that tests can break (reset), take
// down (refuse) or freeze (silent stall), to exercise reconnects and backoff for real.
import net from 'node:net';

/** A TCP proxy in front of the API server whose connections the test can break or freeze. */
export class FaultyProxy {
  private server: net.Server | undefined;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private readonly frozen = new Set<{ client: net.Socket; upstream: net.Socket }>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      const pair = { client, upstream };
      this.pairs.add(pair);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Resets every open connection (the client sees a socket error mid-stream). */
  resetAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Refuses new connections and resets the open ones: the API server looks down. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    // close() resolves once every connection is gone, so reset them after asking it to close.
    const closed = new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
    this.resetAll();
    await closed;
  }

  /** Open connections stop moving bytes but stay open: a silent stall. New ones work. */
  freezeOpen(): number {
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    const n = this.pairs.size;
    for (const p of this.pairs) this.frozen.add(p);
    this.pairs.clear(); // connections made from now on are not frozen
    return n;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.frozen) {
      client.destroy();
      upstream.destroy();
    }
    this.frozen.clear();
    await this.down();
  }
}
