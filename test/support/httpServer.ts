import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An `http.Server` on 127.0.0.1 and a free port; its close (every connection cut first, so a keep-alive
 * socket cannot hold it open) is pushed onto `cleanups`. `setup` may tune the server before it listens
 * (`keepAliveTimeout`…). Returns the port.
 */
export async function listenHttp(handler: http.RequestListener, cleanups: (() => unknown)[], setup?: (server: http.Server) => void): Promise<number> {
  const server = http.createServer(handler);
  setup?.(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  );
  return (server.address() as AddressInfo).port;
}
