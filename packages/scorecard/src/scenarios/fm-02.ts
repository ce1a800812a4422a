import { performance } from 'node:perf_hooks';
import { connectWatched, ECHO_SERVER, echoRoundTrip, failureWithin, quietFor, type SocketEvent, SocketWatch, type Topology, tcpInfo } from '@breakwater/chaos';
import { createClient, type HttpClientOptions } from '@breakwater/http';
import { connect, type SocketOptions } from '@breakwater/socket';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, judgeConfigured, whose } from './config-support.js';
import { codeOf, failedInTime, progressEvery, readyPort, scenarioTopology, seconds, silence, untilAborted } from './kernel-support.js';

// FM-02, the 15-minute hang: the peer vanishes while written data is still
// unacknowledged; the kernel retransmits until tcp_retries2 (≈ 924 s) and
// says nothing before. One topology, both clients on the same echo server:
// the port is blackholed, then each writes 64 KB. Naive: net.connect.
// Breakwater: connect() defaults (TCP_USER_TIMEOUT 10 s natively, and the
// 10 s stall watchdog, which reads TCP_INFO: segments unacknowledged and the
// acknowledged byte count not moving; whichever fires first). A peer that
// acknowledged our bytes and only thinks never trips the watchdog.
// Healthy twin: beside the window, a POST through createClient() (the
// user's http options) to a live HTTP server in the same namespace that
// acknowledges the request and thinks 12 s, past the 10 s bound, then answers.

const PAYLOAD_BYTES = 64 * 1024;
/** Past the Breakwater bound (≤ 11 s) with a margin. */
const DEFAULT_WINDOW_MS = 20_000;
/** When options detect a dead peer with bytes in flight: the sooner of TCP_USER_TIMEOUT and the stall watchdog (0 = off). */
const detectMs = (o: { userTimeoutMs: number; stallTimeoutMs: number }) =>
  Math.min(o.userTimeoutMs || Number.POSITIVE_INFINITY, o.stallTimeoutMs || Number.POSITIVE_INFINITY);

/** The twin's server thinks this long (less in a window under 16 s): past the default 10 s bound, as issue 13's slow server. */
const THINK_MS = 12_000;
/** The socket options that decide when a request's silence is a dead peer. */
const DEAD_PEER_KEYS = ['userTimeoutMs', 'stallTimeoutMs', 'expectResponseAfterWrite'];
const TWIN_BODY = JSON.stringify({ order: 42, items: ['a', 'b', 'c'] });

/** A live HTTP server that reads a request, thinks `argv[1]` ms, then answers `{"bytes":n}`; prints `{"port":…}`. */
const THINKING_HTTP_SERVER = `
import http from 'node:http';
const thinkMs = Number(process.argv[1]);
const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => setTimeout(() => res.end(JSON.stringify({ bytes })), thinkMs));
});
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/**
 * Healthy twin: a POST by createClient(`http`) to a server in `topo` that
 * reads it (its bytes are acknowledged) and answers after `thinkMs`, longer
 * than the dead-peer bound. The client's own answer limits (`headersTimeoutMs`,
 * `attemptTimeoutMs`, `deadlineMs`) are lifted past the think time for this
 * request: they bound a slow answer by the user's choice, not a dead peer.
 * Healthy: the answer arrives. A stall watchdog that owes a reply within
 * 10 s (`socket.expectResponseAfterWrite: true`) fails it.
 */
export async function thinkingServerTwin(ctx: ScenarioContext, topo: Topology, http: HttpClientOptions, thinkMs: number): Promise<Measurement> {
  const port = await readyPort(ctx, topo.server.spawnNode(THINKING_HTTP_SERVER, [String(thinkMs)]).ready);
  const client = createClient({ ...http, attemptTimeoutMs: 0 });
  ctx.defer(() => client.destroy());
  const limitMs = thinkMs + 10_000;
  const started = performance.now();
  const outcome = await untilAborted(
    ctx,
    client
      .request(`http://${topo.server.address}:${port}/think`, {
        method: 'POST',
        body: TWIN_BODY,
        headers: { 'content-type': 'application/json' },
        headersTimeoutMs: limitMs,
        deadlineMs: limitMs,
        signal: ctx.signal,
      })
      .then(
        async (res) => ({ code: `${res.statusCode}`, body: await res.body.text() }),
        (error: unknown) => ({ code: codeOf(error), body: '' }),
      ),
  );
  const atMs = performance.now() - started;
  const answered = outcome.code === '200' && outcome.body === JSON.stringify({ bytes: Buffer.byteLength(TWIN_BODY) });
  return {
    value: Number(seconds(atMs)),
    unit: 's',
    text: `${answered ? 'answered 200' : outcome.code} after ${seconds(atMs)} s (server thinking ${seconds(thinkMs)} s)`,
    ok: answered,
  };
}

/** One more Breakwater client in the same lab: its socket options and how much it writes. */
export interface Fm02Client {
  options: SocketOptions;
  /** @defaultValue 64 KiB */
  payloadBytes?: number;
}

/** What a test sees once the window is over (the sockets are still open). */
export interface Fm02Outcome {
  naive: SocketWatch;
  naiveEvent: SocketEvent | undefined;
  /** The naive write's callback: `null`/`undefined` when handed to the kernel, an Error on failure, pending otherwise. */
  naiveWritten: Promise<Error | null | undefined>;
  /** The Breakwater side's failure, then each extra client's, in order. */
  failures: ({ atMs: number; error?: Error } | undefined)[];
}

export interface Fm02Options {
  /** How long both sides are watched. @defaultValue 20_000 */
  windowMs?: number;
  /** Extra Breakwater clients written into the same blackhole. */
  clients?: readonly Fm02Client[];
  inspect?(outcome: Fm02Outcome): Promise<void> | void;
}

/** FM-02 with another window, and more Breakwater clients (other options) beside the default one. */
export const fm02 = (options: Fm02Options = {}): Scenario => {
  const NAIVE_WINDOW_MS = options.windowMs ?? DEFAULT_WINDOW_MS;
  const extra: Fm02Client[] = [...(options.clients ?? [])];
  // Past the default bound, within the window (the twin runs beside it).
  const thinkMs = Math.min(THINK_MS, NAIVE_WINDOW_MS - 4_000);
  return {
    id: 'FM-02',
    title: 'Write into a blackhole (data in flight, peer gone)',
    bound: 'error ≤ user timeout + 1 s',
    naiveExpectation: `no error in ${seconds(NAIVE_WINDOW_MS)} s with data unacknowledged`,
    twinExpectation: `a POST whose bytes a live server acknowledged, answered after ${seconds(thinkMs)} s of thinking (past the dead-peer bound): no error`,
    requires: ['netns'],
    budgetMs: NAIVE_WINDOW_MS + 20_000,
    async run(ctx) {
      // The Breakwater side runs with the user's socket options; its bound is theirs, at most the window.
      const clients: Fm02Client[] = [{ options: ctx.config.socket }, ...extra];
      const { boundMs, defeat } = configuredBound(
        detectMs(ctx.config.effectiveSocket),
        1_000,
        NAIVE_WINDOW_MS,
        `userTimeoutMs ${ctx.config.effectiveSocket.userTimeoutMs}, stallTimeoutMs ${ctx.config.effectiveSocket.stallTimeoutMs}`,
        'a dead peer mid-request is reported',
      );
      const topo = await scenarioTopology(ctx);
      const server = topo.server.spawnNode(ECHO_SERVER);
      const port = await readyPort(ctx, server.ready);
      // Beside the window, on its own server and port in the same namespace: it adds no wall time.
      const twin = thinkingServerTwin(ctx, topo, ctx.config.http, thinkMs).then((m) =>
        blameOptions(
          ctx,
          m,
          ctx.config.http,
          DEAD_PEER_KEYS.map((k) => `socket.${k}`),
        ),
      );
      twin.catch(() => {});

      const naive = await connectWatched(topo.server.address, port);
      ctx.defer(() => naive.socket.destroy());
      const hardened = await Promise.all(clients.map(async (c) => new SocketWatch(await connect({ ...c.options, host: topo.server.address, port }))));
      for (const watch of hardened) ctx.defer(() => watch.socket.destroy());
      await Promise.all([naive, ...hardened].map((watch) => echoRoundTrip(watch, 'hello')));

      naive.mark();
      await topo.server.nft.blackholePort(port);
      const naiveWritten = new Promise<Error | null | undefined>((resolve) => naive.socket.write(Buffer.alloc(PAYLOAD_BYTES, 0x62), resolve));
      for (const [i, watch] of hardened.entries()) watch.socket.write(Buffer.alloc(clients[i]?.payloadBytes ?? PAYLOAD_BYTES, 0x62));
      progressEvery(ctx, (s) => `${PAYLOAD_BYTES / 1024} KB written into a blackhole: watching both clients (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
      const [naiveEvent, ...failures] = await Promise.all([
        quietFor([naive], NAIVE_WINDOW_MS, undefined, ctx.signal),
        ...hardened.map((watch) => failureWithin(watch, NAIVE_WINDOW_MS, ctx.signal)),
      ]);
      ctx.signal.throwIfAborted();
      await options.inspect?.({ naive, naiveEvent, naiveWritten, failures });
      const failure = failures[0];
      const info = naiveEvent === undefined ? await tcpInfo(naive.socket) : undefined;

      return {
        naive: silence(naiveEvent, NAIVE_WINDOW_MS),
        breakwater: judgeConfigured(
          ctx,
          failedInTime(failure, NAIVE_WINDOW_MS, boundMs, ['BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED']),
          defeat,
          ctx.config.socket,
          DEAD_PEER_KEYS,
        ),
        twin: await twin,
        notes: [
          `naive after ${seconds(NAIVE_WINDOW_MS)} s: ${info?.state ?? '?'}, ${info?.unacked ?? '?'} segments unacknowledged, ${info?.retransmits ?? '?'} retransmissions; the kernel gives up after ≈ 924 s (tcp_retries2 = 15)`,
          `breakwater: ${whose(ctx, 'connect()', ctx.config.socket)} (userTimeoutMs ${ctx.config.effectiveSocket.userTimeoutMs}, stallTimeoutMs ${ctx.config.effectiveSocket.stallTimeoutMs}: our bytes unacknowledged per TCP_INFO, or not leaving the process without it): bound ${seconds(boundMs)} s (at most the ${seconds(NAIVE_WINDOW_MS)} s window)`,
          `healthy twin: ${whose(ctx, 'createClient()', ctx.config.http)}, a POST answered after ${seconds(thinkMs)} s; its headers, attempt and deadline limits are lifted past that for the twin (they bound a slow answer by choice, not a dead peer)`,
        ],
      };
    },
  };
};

export const FM_02: Scenario = fm02();
