/**
 * Child process for review-pools.test.ts: 22 origins through a client capped at 3 pools (names resolved
 * by a custom `resolve`, `localhost` and an address), then `client.close()`. Prints one JSON line; the
 * parent asserts the process then exits by itself and that the server saw every client socket closed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// The built package (tsc -b runs before the tests).
import { createClient } from '../../../packages/http/dist/index.js';

const srv = http.createServer((req, res) => res.end(req.headers.host));
srv.keepAliveTimeout = 60_000;
await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
const port = (srv.address() as AddressInfo).port;
const client = createClient({ maxOrigins: 3, resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
const hosts: string[] = [];
for (const name of [...Array.from({ length: 20 }, (_, i) => `n${i}.test`), 'localhost', '127.0.0.1'])
  hosts.push(await (await client.request(`http://${name}:${port}/`)).body.text());
await client.close();
// The server keeps its side open: only the client closing its sockets brings its count to 0.
let open = -1;
for (let i = 0; i < 50 && open !== 0; i++) {
  await new Promise((r) => setTimeout(r, 20));
  open = await new Promise<number>((r) => srv.getConnections((_e, n) => r(n)));
}
srv.close();
console.log(JSON.stringify({ hosts, open }));
