/**
 * JavaScript heap per connection of a plain `net.Socket` and of one hardened
 * by @breakwater/socket, idle and with a request in flight (bytes owed: the
 * stall watchdog armed). Server: the benches' canned responder in its own
 * process (bench/support/server.ts), so only client sockets are in this heap.
 *
 * For each variant, with `n` fresh loopback connections: `heapUsed` after
 * `gc()` before connecting (baseline), once all are connected (and hardened,
 * right after connect as undici's connector does: idle), and once the server
 * holds one request from each (in flight). Per connection = delta ÷ n.
 * Variants: `plain`; `harden` (`harden(socket)`, defaults); `connector`
 * (what @breakwater/http does per connection: `harden(socket, options)` with
 * one frozen `{ expectResponseAfterWrite: false }` shared by every connection).
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node --expose-gc bench/socket/heap.ts [--connections 2000] [--rounds 3]
 */
import net from 'node:net';
import { harden } from '../../packages/socket/dist/index.js';
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { median } from '../support/rounds.ts';
import { startServer } from '../support/server.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench/socket/heap.ts measures the heap after garbage collection: run it with node --expose-gc');
  process.exit(2);
}
const o = flags({ connections: 2_000, rounds: 3 });
capRunTime(60 + (o.connections * o.rounds) / 50);

const server = await startServer();
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench\r\n\r\n', 'latin1');
const connectorOptions = Object.freeze({ expectResponseAfterWrite: false });
const variants: Record<string, (s: net.Socket) => void> = {
  plain: () => {},
  harden: (s) => void harden(s),
  connector: (s) => void harden(s, connectorOptions),
};

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function one(adopt: (s: net.Socket) => void, n: number) {
  const baseline = heap();
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(server.port, '127.0.0.1', () => {
            adopt(s);
            resolve(s);
          });
          s.once('error', reject);
        }),
    ),
  );
  const idle = heap();
  await server.hold();
  for (const s of sockets) s.write(REQUEST);
  await server.waitHeld(n, 30_000);
  const inFlight = heap();
  await server.release();
  await server.drop();
  for (const s of sockets) s.destroy();
  await new Promise((r) => setTimeout(r, 50));
  return { idle: (idle - baseline) / n, inFlight: (inFlight - baseline) / n };
}

for (const adopt of Object.values(variants)) await one(adopt, 100);
const rows: Record<string, { idle: number[]; inFlight: number[] }> = {};
for (let round = 0; round < o.rounds; round++) {
  const names = round % 2 === 0 ? Object.keys(variants) : Object.keys(variants).reverse();
  for (const name of names) {
    const r = await one(variants[name]!, o.connections);
    rows[name] ??= { idle: [], inFlight: [] };
    rows[name].idle.push(r.idle);
    rows[name].inFlight.push(r.inFlight);
  }
}
await server.close();
const results = Object.entries(rows).map(([variant, r]) => ({
  variant,
  idleBytesPerConnection: Math.round(median(r.idle)),
  inFlightBytesPerConnection: Math.round(median(r.inFlight)),
}));
for (const r of results)
  console.log(`${r.variant.padEnd(10)} idle ${r.idleBytesPerConnection} B/connection, in flight ${r.inFlightBytesPerConnection} B/connection`);
printResult({ bench: 'socket-heap', node: process.version, connections: o.connections, results });
