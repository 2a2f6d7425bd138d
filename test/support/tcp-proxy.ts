/**
 * A TCP proxy on 127.0.0.1 that a test can cut: a network partition between
 * one process and another, without touching either. While cut, every open
 * connection is reset and every new one is closed as soon as it is accepted
 * (so the client sees its connection fail, as with a peer it cannot reach);
 * once restored, new connections pass through again.
 */
import net from 'node:net';

export interface TcpProxy {
  /** The port it listens on. */
  readonly port: number;
  /** Connections accepted so far, passed through or not. */
  readonly accepted: number;
  /** Resets every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  /** Stops listening and resets every open connection. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and passes each connection to `target` (host:port). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  let isCut = false;
  let accepted = 0;

  const track = (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    // A reset from either side ends both; the error itself is what a cut means.
    socket.on('error', () => {});
  };
  const resetAll = () => {
    for (const socket of open) socket.resetAndDestroy();
  };

  const server = net.createServer((client) => {
    accepted++;
    if (isCut) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    get accepted() {
      return accepted;
    },
    cut() {
      isCut = true;
      resetAll();
    },
    restore() {
      isCut = false;
    },
    close() {
      resetAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
