import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './postgres.js';

/** A TCP proxy on 127.0.0.1 that a test can cut, as if the network to the server went down. */
export interface TcpProxy {
  /** The port clients connect to instead of the server's. */
  readonly port: number;
  /** Whether the proxy is cut. */
  readonly cut: boolean;
  /** Destroys every open connection and refuses new ones until {@link TcpProxy.restore}. */
  disconnect(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  /** Destroys every connection and stops listening for good. */
  close(): Promise<void>;
}

/**
 * Starts a TCP proxy on a free port that forwards every connection to `target` (on 127.0.0.1).
 * Point a client at {@link TcpProxy.port}, then {@link TcpProxy.disconnect} and
 * {@link TcpProxy.restore} to simulate an outage of the server behind it.
 */
export async function startTcpProxy(target: { port: number; host?: string }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ port: target.port, host: target.host ?? '127.0.0.1' });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // An error on either side ends both: the client sees a dropped connection.
      socket.once('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  await listen();
  let cut = false;
  return {
    port,
    get cut() {
      return cut;
    },
    async disconnect() {
      cut = true;
      await stop();
    },
    async restore() {
      cut = false;
      await listen();
    },
    close: stop,
  };
}
