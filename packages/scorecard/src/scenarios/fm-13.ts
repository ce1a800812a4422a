import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import { createClient, HTTP_DEFAULTS, type HttpClient, type HttpClientOptions } from '@breakwater/http';
import { Agent, request } from 'undici';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { whose, withDefeat } from './config-support.js';
import { listen, pause, seconds, settleBeforeCleanup } from './transport-support.js';

/**
 * FM-13, DNS caching forever / negative caching: a tiny authoritative DNS
 * server on loopback whose record moves from 127.0.0.2 to 127.0.0.3 (two
 * HTTP servers on the same port answer with their address). Naive: undici's
 * Agent resolving through that same server at connect time keeps its pooled
 * connection to the old address as long as traffic flows. Breakwater
 * re-resolves when the TTL ends, and forgets an NXDOMAIN within its cap.
 * Healthy twin: a record that does not change, asked for every 50 ms, must
 * be re-resolved about once per TTL, not per request (no query storm).
 */

const TTL_S = 1;
/** Breakwater's default cap on caching NXDOMAIN. */
const NEGATIVE_CAP_MS = HTTP_DEFAULTS.dnsNegativeTtlMs;
/** The record changes this long after its answer was cached (any moment within the TTL would do; mid-TTL leaves room for a busy event loop). */
const CHANGE_AFTER_MS = 500;
/** The missing name is created this long after its NXDOMAIN was cached. */
const CREATE_AFTER_MS = 800;
/** Naive traffic is watched this long after the change. */
const WINDOW_MS = 2 * TTL_S * 1_000;
/** The twin's GETs, TWIN_GAP_MS apart, to a stable record. */
const TWIN_GETS = 30;
const TWIN_GAP_MS = 50;
const OLD = '127.0.0.2';
const NEW = '127.0.0.3';

type Zone = Map<string, string>;

/** An A answer (or NXDOMAIN) for the single question in `query`. */
function answer(query: Buffer, zone: Zone): Buffer {
  let i = 12;
  const labels: string[] = [];
  for (let len = query[i]!; len !== 0; len = query[i]!) {
    labels.push(query.subarray(i + 1, i + 1 + len).toString());
    i += len + 1;
  }
  const address = zone.get(labels.join('.').toLowerCase());
  const answers = address !== undefined && query.readUInt16BE(i + 1) === 1 ? 1 : 0;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8180 | (address === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers, 6);
  const record = Buffer.alloc(answers * 16);
  if (answers === 1) {
    record.writeUInt16BE(0xc00c, 0); // name: the question's
    record.writeUInt16BE(1, 2); // A
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(TTL_S, 6);
    record.writeUInt16BE(4, 10);
    for (const [k, octet] of address!.split('.').entries()) record.writeUInt8(Number(octet), 12 + k);
  }
  return Buffer.concat([header, query.subarray(12, i + 5), record]);
}

async function dnsServer(ctx: ScenarioContext, zone: Zone, onQuery: () => void = () => {}): Promise<{ server: string; stop(): void }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, peer) => {
    onQuery();
    socket.send(answer(msg, zone), peer.port, peer.address);
  });
  let open = true;
  const stop = () => {
    if (open) socket.close();
    open = false;
  };
  ctx.defer(stop);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${socket.address().port}`, stop };
}

/** undici's own connect-time lookup, pointed at the scenario's DNS server. */
function naiveAgent(server: string): Agent {
  const resolver = new dns.Resolver();
  resolver.setServers([server]);
  return new Agent({
    connect: {
      lookup: (hostname, options, callback) =>
        resolver.resolve4(hostname, (err, addresses) => {
          if ((options as { all?: boolean }).all)
            (callback as (e: unknown, a: unknown) => void)(
              err,
              (addresses ?? []).map((address) => ({ address, family: 4 })),
            );
          else callback(err, addresses?.[0] ?? '', 4);
        }),
    },
  });
}

/** How the scenario builds its Breakwater client for a DNS server; the healthy twin gets the same. */
export type MakeDnsClient = (dnsServer: string) => HttpClient;

/**
 * Healthy twin: a record that never changes (TTL TTL_S), TWIN_GETS GETs
 * TWIN_GAP_MS apart by a client from `make`. Healthy: every GET answered and
 * at most one query per TTL elapsed, plus the first (no re-resolution storm).
 */
export async function stableRecordTwin(ctx: ScenarioContext, make: MakeDnsClient): Promise<Measurement> {
  let queries = 0;
  const { server } = await dnsServer(ctx, new Map([['stable.test', '127.0.0.1']]), () => queries++);
  const port = await listen(
    ctx,
    http.createServer((_req, res) => res.end('ok')),
    '127.0.0.1',
    0,
  );
  const client = make(server);
  ctx.defer(() => client.close());
  const started = performance.now();
  let failed = 0;
  for (let i = 0; i < TWIN_GETS; i++) {
    if (i > 0) await pause(TWIN_GAP_MS, ctx.signal);
    await client
      .request(`http://stable.test:${port}/`, { signal: ctx.signal })
      .then((res) => res.body.text())
      .catch(() => failed++);
  }
  ctx.signal.throwIfAborted();
  const elapsedMs = performance.now() - started;
  const allowed = Math.ceil(elapsedMs / (TTL_S * 1_000)) + 1;
  return {
    value: queries,
    unit: 'count',
    text: `${queries} DNS queries for ${TWIN_GETS - failed}/${TWIN_GETS} GETs in ${seconds(elapsedMs)} (TTL ${TTL_S} s; ≤ ${allowed})`,
    ok: failed === 0 && queries <= allowed,
  };
}

/** Variants for the test suites; the scorecard runs the defaults. */
export interface Fm13Options {
  /** Breakwater's client options besides `dnsServers` (e.g. a shorter `dnsNegativeTtlMs`, which becomes the bound). */
  client?: HttpClientOptions;
  /** The missing name is created this long after its NXDOMAIN was cached (default 800 ms). */
  createAfterMs?: number;
  /** The missing name is asked for this often (default 250 ms: a handful of failures, below the breaker's volume threshold). */
  createdPollMs?: number;
  /** Runs after the measurements, with the DNS server's stop() and Breakwater's GET (its answer: the address that served it). */
  afterwards?: (tools: { stopDns(): void; bwGet(name?: string): Promise<string> }) => Promise<void>;
}

/** The user's negative cap past the catalogue's: a name that appears stays missing too long. */
function negativeCapDefeat(ctx: ScenarioContext, options: Fm13Options, capMs: number): string | undefined {
  const userCapMs = ctx.config.http.dnsNegativeTtlMs;
  if (options.client?.dnsNegativeTtlMs !== undefined || userCapMs === undefined || userCapMs <= capMs) return undefined;
  return `dnsNegativeTtlMs ${userCapMs} → a name that appears is found up to ${seconds(userCapMs)} later, bound ${seconds(capMs)}`;
}

export function fm13Scenario(options: Fm13Options = {}): Scenario {
  const negativeCapMs = options.client?.dnsNegativeTtlMs ?? NEGATIVE_CAP_MS;
  const createAfterMs = options.createAfterMs ?? CREATE_AFTER_MS;
  return {
    id: 'FM-13',
    title: 'DNS caching forever / negative caching',
    bound: `new address used within its TTL (${TTL_S} s); NXDOMAIN cached ≤ the cap (${seconds(negativeCapMs)})`,
    naiveExpectation: `still on the old address ${seconds(WINDOW_MS)} after the change`,
    twinExpectation: `a stable record (TTL ${TTL_S} s) asked for every ${TWIN_GAP_MS} ms: about one query per TTL, every GET answered`,
    requires: [],
    budgetMs: 15_000,
    // A sub-second bound, and the DNS server answers from this process's event loop: beside FM-07's 2,000 requests a
    // query can miss the resolver's 1 s timeout, and Breakwater then rightly serves the stale answer.
    exclusive: true,
    run: settleBeforeCleanup(async (ctx) => {
      const zone: Zone = new Map([['svc.test', OLD]]);
      const { server, stop: stopDns } = await dnsServer(ctx, zone);
      // Two backends, one port, each answering with its address: the reply says which address was used.
      let port = 0;
      for (const address of [OLD, NEW]) {
        const backend = http.createServer((req, res) => res.end(req.socket.localAddress));
        backend.keepAliveTimeout = 60_000;
        port = await listen(ctx, backend, address, port);
      }

      const naive = naiveAgent(server);
      ctx.defer(() => naive.destroy());
      // The scenario's DNS server is the thing under test: a user's `resolve` would replace it, so it stays out (and a note says so).
      const makeClient: MakeDnsClient = (dns) => createClient({ ...ctx.config.http, ...options.client, dnsServers: [dns], resolve: undefined });
      const bw = makeClient(server);
      ctx.defer(() => bw.close());
      const naiveGet = async () => (await request(`http://svc.test:${port}/`, { dispatcher: naive, signal: ctx.signal })).body.text();
      const bwGet = async (name = 'svc.test') => (await bw.request(`http://${name}:${port}/`, { signal: ctx.signal })).body.text();

      ctx.progress('record change');
      const first = [await naiveGet(), await bwGet()];
      if (first.some((a) => a !== OLD)) throw new Error(`expected both sides on ${OLD} first, got ${first.join(', ')}`);
      await pause(CHANGE_AFTER_MS, ctx.signal);
      zone.set('svc.test', NEW);
      const changedAt = performance.now();
      let bwMovedMs: number | undefined;
      let naiveLast = OLD;
      // Per poll after the change: 0 = the old address answered, 1 = the new one.
      const naiveSeen: number[] = [];
      const bwSeen: number[] = [];
      while (performance.now() - changedAt < WINDOW_MS) {
        naiveLast = await naiveGet();
        naiveSeen.push(naiveLast === OLD ? 0 : 1);
        const bwNow = await bwGet();
        bwSeen.push(bwNow === OLD ? 0 : 1);
        if (bwMovedMs === undefined && bwNow === NEW) bwMovedMs = performance.now() - changedAt;
        await pause(50, ctx.signal);
      }

      ctx.progress('NXDOMAIN, then the name is created');
      const missing = await bwGet('new.test').then(
        () => 'resolved',
        (error: { code?: string }) => error.code ?? 'error',
      );
      await pause(createAfterMs, ctx.signal);
      zone.set('new.test', OLD);
      const createdAt = performance.now();
      let foundMs: number | undefined;
      // 250 ms apart: a handful of failures, below the circuit breaker's volume threshold.
      while (foundMs === undefined && performance.now() - createdAt < negativeCapMs + 1_000) {
        if ((await bwGet('new.test').catch(() => '')) === OLD) foundMs = performance.now() - createdAt;
        else await pause(options.createdPollMs ?? 250, ctx.signal);
      }
      await options.afterwards?.({ stopDns, bwGet });
      ctx.progress('healthy twin: a stable record');
      const twin = await stableRecordTwin(ctx, makeClient);

      const moved = bwMovedMs !== undefined && bwMovedMs <= TTL_S * 1_000;
      const forgot = missing === 'BW_ERR_DNS' && foundMs !== undefined && foundMs <= negativeCapMs;
      return {
        naive: {
          value: Math.round(WINDOW_MS),
          unit: 'ms',
          text: naiveLast === OLD ? `old address after ${seconds(WINDOW_MS)}` : 'moved to the new address',
          ok: naiveLast === OLD,
          series: { label: 'naive: new address (1) or old (0), per poll after the change', unit: 'count', points: naiveSeen.slice(0, 200) },
        },
        breakwater: withDefeat(
          {
            value: Math.round(bwMovedMs ?? WINDOW_MS),
            unit: 'ms',
            text:
              `${bwMovedMs === undefined ? `old address after ${seconds(WINDOW_MS)}` : `moved in ${seconds(bwMovedMs)}`}; ` +
              `${missing !== 'BW_ERR_DNS' ? `NXDOMAIN gave ${missing}` : foundMs === undefined ? 'new name never' : `new name in ${seconds(foundMs)}`}`,
            ok: moved && forgot,
            series: { label: 'Breakwater: new address (1) or old (0), per poll after the change', unit: 'count', points: bwSeen.slice(0, 200) },
          },
          negativeCapDefeat(ctx, options, negativeCapMs),
        ),
        twin,
        notes: [
          `Authoritative DNS server on 127.0.0.1 (UDP); an A record (TTL ${TTL_S} s) moved from ${OLD} to ${NEW} ${CHANGE_AFTER_MS} ms after it was cached, GETs every 50 ms; ` +
            `naive: undici Agent() with a connect-time lookup through the same server; Breakwater: ${whose(ctx, 'createClient({ dnsServers })', ctx.config.http)}. ` +
            `A name answered NXDOMAIN was created ${createAfterMs} ms later (Breakwater's negative cap: ${seconds(negativeCapMs)}). Needs 127.0.0.2 and 127.0.0.3 on the loopback interface (Linux has all of 127/8).`,
          ...(ctx.config.http.resolve === undefined
            ? []
            : ["not applied: http.resolve (your option): it would replace the scenario's DNS server, the resolver under test"]),
        ],
      };
    }),
  };
}

export const fm13: Scenario = fm13Scenario();
