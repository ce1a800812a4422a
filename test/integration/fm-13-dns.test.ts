import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// undici 8 is a dependency of @breakwater/http only; the naive side uses that very copy.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../packages/http/src/index.js';

// FM-13, DNS: a tiny authoritative server on 127.0.0.1 (node:dgram) whose
// records the test changes. Naive: undici resolving at connect time (even
// through the same resolver) keeps using its pooled connection to the old
// address for as long as traffic flows. Breakwater re-resolves when the TTL
// ends, caps negative caching, and serves the last answer while the resolver
// is down.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Zone = Map<string, { address: string; ttlS: number }>;

function answer(query: Buffer, zone: Zone): Buffer {
  let i = 12;
  const labels: string[] = [];
  while (query[i]! !== 0) {
    const len = query[i]!;
    labels.push(query.subarray(i + 1, i + 1 + len).toString());
    i += len + 1;
  }
  const qtype = query.readUInt16BE(i + 1);
  const question = query.subarray(12, i + 5);
  const record = zone.get(labels.join('.').toLowerCase());
  const answers = record !== undefined && qtype === 1 ? 1 : 0;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | (record === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers, 6);
  const parts = [header, question];
  if (answers === 1 && record !== undefined) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(record.ttlS, 6);
    rr.writeUInt16BE(4, 10);
    for (const [k, o] of record.address.split('.').entries()) rr.writeUInt8(Number(o), 12 + k);
    parts.push(rr);
  }
  return Buffer.concat(parts);
}

async function dnsServer(zone: Zone) {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => socket.send(answer(msg, zone), rinfo.port, rinfo.address));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  let open = true;
  const stop = () => {
    if (open) socket.close();
    open = false;
  };
  cleanups.push(stop);
  return { server: `127.0.0.1:${socket.address().port}`, stop };
}

/** HTTP servers on 127.0.0.2 and 127.0.0.3, same port, answering with their address. */
async function backends(): Promise<number> {
  let port = 0;
  for (const address of ['127.0.0.2', '127.0.0.3']) {
    const server = http.createServer((req, res) => res.end(req.socket.localAddress));
    server.keepAliveTimeout = 60_000;
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
  return port;
}

describe('FM-13: DNS changes, NXDOMAIN and a dead resolver', () => {
  it('uses the new address within its TTL, forgets NXDOMAIN within the cap and serves stale while the resolver is down', async () => {
    const zone: Zone = new Map([['svc.test', { address: '127.0.0.2', ttlS: 1 }]]);
    const { server, stop } = await dnsServer(zone);
    const port = await backends();

    const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server]);
    const naive = new Agent({
      connect: {
        lookup: (hostname, o, cb) =>
          resolver.resolve4(hostname, (err, a) =>
            (o as { all?: boolean }).all
              ? (cb as (e: unknown, r: unknown) => void)(
                  err,
                  (a ?? []).map((address) => ({ address, family: 4 })),
                )
              : cb(err, a?.[0] ?? '', 4),
          ),
      },
    });
    cleanups.push(() => naive.close());
    // No breaker here: this test polls a missing name, which a breaker rightly stops.
    const bw = createClient({ dnsServers: [server], dnsNegativeTtlMs: 500, circuit: false });
    cleanups.push(() => bw.close());
    const naiveGet = async () => (await request(`http://svc.test:${port}/`, { dispatcher: naive })).body.text();
    const bwGet = async (name = 'svc.test') => {
      const res = await bw.request(`http://${name}:${port}/`);
      return res.body.text();
    };

    expect(await naiveGet()).toBe('127.0.0.2');
    expect(await bwGet()).toBe('127.0.0.2');

    // The record moves; traffic keeps flowing (every 100 ms) past its 1 s TTL.
    zone.set('svc.test', { address: '127.0.0.3', ttlS: 1 });
    const changedAt = performance.now();
    let bwMovedAfterMs: number | undefined;
    let naiveLast = '';
    while (performance.now() - changedAt < 2_000) {
      naiveLast = await naiveGet();
      if ((await bwGet()) === '127.0.0.3') bwMovedAfterMs ??= performance.now() - changedAt;
      await sleep(100);
    }
    console.log(`[FM-13] record changed: Breakwater moved after ${Math.round(bwMovedAfterMs ?? -1)} ms (TTL 1,000 ms); naive still on ${naiveLast} after 2 s`);
    expect(naiveLast).toBe('127.0.0.2');
    expect(bwMovedAfterMs).toBeDefined();
    expect(bwMovedAfterMs!).toBeLessThanOrEqual(1_000 + 300);

    // NXDOMAIN, then the name is created: resolved within the 500 ms negative cap.
    const missing = await bwGet('new.test').catch((e: { code?: string }) => e.code);
    expect(missing).toBe('BW_ERR_DNS');
    zone.set('new.test', { address: '127.0.0.2', ttlS: 30 });
    const createdAt = performance.now();
    let found: number | undefined;
    while (found === undefined && performance.now() - createdAt < 2_000) {
      if ((await bwGet('new.test').catch(() => '')) === '127.0.0.2') found = performance.now() - createdAt;
      else await sleep(50);
    }
    console.log(`[FM-13] NXDOMAIN then created: resolved after ${Math.round(found ?? -1)} ms (negative cap 500 ms)`);
    expect(found).toBeDefined();
    expect(found!).toBeLessThanOrEqual(500 + 300);

    // The resolver dies; svc.test's TTL runs out: the last answer is served.
    stop();
    await sleep(1_100);
    await expect(new dns.promises.Resolver({ timeout: 300, tries: 1 }).resolve4('svc.test').catch((e: { code: string }) => e.code)).resolves.toBeTypeOf(
      'string',
    );
    expect(await bwGet()).toBe('127.0.0.3');
  }, 20_000);
});
