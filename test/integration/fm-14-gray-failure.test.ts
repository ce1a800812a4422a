import http from 'node:http';
import type { AddressInfo } from 'node:net';
// undici 8 is a dependency of @breakwater/http only; the naive side uses that very copy.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../packages/http/src/index.js';

// FM-14, gray failure: three replicas of one service on 127.0.0.1/.2/.3, same
// port, one answering 10× slower but never failing. Round robin (what DNS
// rotation or a naive pool gives) sends it a third of the traffic; Breakwater's
// P2C + peak-EWMA balancer sends it < 10 % after warm-up.

const FAST_MS = 10;
const SLOW_MS = 100;
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
const SLOW = '127.0.0.3';
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function replicas(): Promise<{ port: number; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  let port = 0;
  for (const address of ADDRESSES) {
    const server = http.createServer((req, res) => {
      const local = req.socket.localAddress ?? '';
      hits.set(local, (hits.get(local) ?? 0) + 1);
      setTimeout(() => res.end(local), local === SLOW ? SLOW_MS : FAST_MS);
    });
    await new Promise<void>((r) => server.listen(port, address, r));
    port = (server.address() as AddressInfo).port;
    cleanups.push(
      () =>
        new Promise((r) => {
          server.closeAllConnections();
          server.close(r);
        }),
    );
  }
  return { port, hits };
}

async function drive(n: number, concurrency: number, get: () => Promise<string>): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) {
        const by = await get();
        served.set(by, (served.get(by) ?? 0) + 1);
      }
    }),
  );
  return served;
}

const share = (m: Map<string, number>) => (m.get(SLOW) ?? 0) / [...m.values()].reduce((a, b) => a + b, 0);

describe('FM-14: one replica 10× slower', () => {
  it('round robin gives it ~33 %; Breakwater < 10 % after warm-up', async () => {
    const { port } = await replicas();

    const naive = new Agent();
    cleanups.push(() => naive.close());
    let turn = 0;
    const naiveServed = await drive(300, 8, async () => {
      const address = ADDRESSES[turn++ % ADDRESSES.length]!;
      const res = await request(`http://${address}:${port}/`, { dispatcher: naive });
      return res.body.text();
    });

    const bw = createClient({ resolve: async () => ADDRESSES.map((address) => ({ address, family: 4 as const, ttlMs: 60_000 })) });
    cleanups.push(() => bw.close());
    const bwGet = async () => {
      const res = await bw.request(`http://svc.test:${port}/`);
      return res.body.text();
    };
    await drive(60, 4, bwGet); // warm-up: every replica gets measured
    const bwServed = await drive(300, 4, bwGet);

    console.log(`[FM-14] slow replica's share: round robin ${(share(naiveServed) * 100).toFixed(1)} %; Breakwater ${(share(bwServed) * 100).toFixed(1)} %`);
    expect(share(naiveServed)).toBeGreaterThan(0.3);
    expect(share(bwServed)).toBeLessThan(0.1);
  });
});
