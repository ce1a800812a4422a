import { performance } from 'node:perf_hooks';
import { connectWatched, failureWithin, SIZED_RESPONSE_SERVER, SLOW_RESPONSE_SERVER, SocketWatch } from '@breakwater/chaos';
import { connect, type SocketOptions } from '@breakwater/socket';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, judgeConfigured, whose } from './config-support.js';
import { codeOf, progressEvery, readyPort, scenarioTopology, seconds, untilAborted, wait } from './kernel-support.js';

// FM-06, PMTU black hole: client — router — server, the router's
// client-facing hop has a 1400 MTU while both endpoints keep 1500 (a 1460
// MSS), and the router drops the ICMP "fragmentation needed" it should send.
// Each client asks for 500 B (passes) then 100 KB (full-size segments die at
// the router) on the same connection. Naive: net.connect. Breakwater:
// connect() defaults: a raw request/response socket owes a reply within the
// 10 s stall timeout (expectResponseAfterWrite). Over HTTP the same lost
// answer is indistinguishable from a thinking server, so @breakwater/http
// reports it as BW_ERR_HEADERS_TIMEOUT (hint: slow, frozen, or lost on the
// way) and only a large upload or a stopped body is a stall
// (test/faults/fm-06-http-pmtu.test.ts).
// Healthy twin, beside the window: a big transfer on a healthy path of the
// same shape (the 1400-MTU hop, ICMP passed, so PMTU discovery works) from a
// server that thinks 2 s first — slow is not stalled.

const SMALL = 500;
const LARGE = 100 * 1024;
const SAMPLE_MS = 500;
/** Past the Breakwater bound (stall timeout + 1 s = 11 s) with a margin. */
const DEFAULT_WINDOW_MS = 14_000;

/** The options that decide when a transfer is stalled. */
const STALL_KEYS = ['stallTimeoutMs', 'expectResponseAfterWrite'];
/** The twin's server thinks this long before answering: busy, well inside the default stall timeout. */
const TWIN_THINK_MS = 2_000;
const TWIN_BYTES = 4 * 1024 * 1024;
const MB = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/**
 * Healthy twin: client — router — server with the 1400-MTU hop, the router
 * passing ICMP "fragmentation needed" (PMTU discovery works), and a server
 * that thinks TWIN_THINK_MS before answering 4 MB. connect() with `socket`
 * must receive all of it, with no error, within `windowMs`.
 */
export async function bigTransferTwin(ctx: ScenarioContext, socket: SocketOptions, windowMs: number): Promise<Measurement> {
  const topo = await scenarioTopology(ctx, { router: true, mtu: { clientRouter: 1400 } });
  const port = await readyPort(ctx, topo.server.spawnNode(SLOW_RESPONSE_SERVER, [String(TWIN_THINK_MS)]).ready);
  const watch = new SocketWatch(await untilAborted(ctx, connect({ ...socket, host: topo.server.address, port, signal: ctx.signal })));
  ctx.defer(() => watch.socket.destroy());
  watch.mark();
  const started = performance.now();
  const firstByte = watch.next(['data', 'error', 'close'], windowMs, ctx.signal).then(() => performance.now() - started);
  watch.socket.write(`${TWIN_BYTES}\n`);
  const got = await watch.readBytes(TWIN_BYTES, windowMs, ctx.signal);
  ctx.signal.throwIfAborted();
  const atMs = performance.now() - started;
  const firstMs = await firstByte;
  const ended = watch.eventsSinceMark.find((e) => e.type === 'error' || e.type === 'close');
  const code = ended === undefined ? undefined : codeOf(ended.error ?? watch.socket.errored ?? 'close');
  const ok = got === TWIN_BYTES && code === undefined;
  const rate = got / Math.max(1, atMs - firstMs) / 1000;
  return {
    value: Number(seconds(atMs)),
    unit: 's',
    text: ok
      ? `${MB(TWIN_BYTES)} MB in ${seconds(atMs)} s (first byte after ${seconds(firstMs)} s, then ${rate.toFixed(0)} MB/s), no error`
      : `${code ?? 'no error, incomplete'} after ${seconds(atMs)} s with ${MB(got)} of ${MB(TWIN_BYTES)} MB`,
    ok,
  };
}

/** Asks for `size` bytes and waits for them; the bytes that arrived. */
async function fetch(watch: SocketWatch, size: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const before = watch.bytesIn;
  watch.socket.write(`${size}\n`);
  return (await watch.readBytes(before + size, timeoutMs, signal)) - before;
}

/** What a test sees once the window is over (the sockets are still open). */
export interface Fm06Outcome {
  /** Bytes of each 500 B response: naive, Breakwater. */
  small: number[];
  /** Bytes of the 100 KB response the naive client got in the window. */
  naiveLarge: number;
  hardened: SocketWatch;
  failure: { atMs: number; error?: Error } | undefined;
}

export interface Fm06Options {
  /** Drop the router's ICMP "fragmentation needed"; false is the control where PMTU discovery works. @defaultValue true */
  dropIcmp?: boolean;
  /** How long the large transfer is watched. @defaultValue 14_000 */
  windowMs?: number;
  /** Options for the Breakwater side's connect() (and its healthy twin's), e.g. a shorter `stallTimeoutMs`. */
  socket?: SocketOptions;
  /** Called on the Breakwater socket just before its large request (e.g. `guardOf(socket).expect()`). */
  beforeLarge?(hardened: SocketWatch): void;
  inspect?(outcome: Fm06Outcome): Promise<void> | void;
}

/** FM-06 with the control (ICMP not dropped), another window or other socket options. */
export const fm06 = (options: Fm06Options = {}): Scenario => {
  const NAIVE_WINDOW_MS = options.windowMs ?? DEFAULT_WINDOW_MS;
  return {
    id: 'FM-06',
    title: 'PMTU black hole (ICMP blocked)',
    bound: 'large transfer fails ≤ stall timeout + 1 s; small ones still work',
    naiveExpectation: `100 KB response incomplete after ${seconds(NAIVE_WINDOW_MS)} s, no error`,
    twinExpectation: `a ${MB(TWIN_BYTES)} MB answer on a healthy path (PMTU discovery works) from a server thinking ${seconds(TWIN_THINK_MS)} s: arrives whole, no stall`,
    requires: ['netns'],
    budgetMs: 40_000,
    async run(ctx) {
      const socket = { ...ctx.config.socket, ...options.socket };
      const { stallTimeoutMs } = ctx.config.effectiveSocket;
      const stallMs = options.socket?.stallTimeoutMs ?? stallTimeoutMs;
      const { boundMs, defeat } = configuredBound(
        stallMs || Number.POSITIVE_INFINITY,
        1_000,
        NAIVE_WINDOW_MS,
        `stallTimeoutMs ${stallMs}`,
        'a PMTU black hole is reported',
      );
      // Beside the black hole, on its own healthy path: it adds no wall time.
      const twin = bigTransferTwin(ctx, socket, NAIVE_WINDOW_MS).then((m) => blameOptions(ctx, m, socket, STALL_KEYS));
      twin.catch(() => {}); // observed below; an abort before then must not leave its rejection unhandled
      const topo = await scenarioTopology(ctx, { router: true, mtu: { clientRouter: 1400 } });
      if (options.dropIcmp !== false) await topo.router?.nft.dropIcmpUnreachable();
      const port = await readyPort(ctx, topo.server.spawnNode(SIZED_RESPONSE_SERVER).ready);

      const naive = await connectWatched(topo.server.address, port);
      ctx.defer(() => naive.socket.destroy());
      const hardened = new SocketWatch(await connect({ ...socket, host: topo.server.address, port }));
      ctx.defer(() => hardened.socket.destroy());
      const small = await Promise.all([naive, hardened].map((w) => fetch(w, SMALL, 3_000, ctx.signal)));
      ctx.signal.throwIfAborted();

      naive.mark();
      const naiveBytes = naive.bytesIn;
      const received: number[] = [];
      const sampler = setInterval(() => received.push(naive.bytesIn - naiveBytes), SAMPLE_MS);
      ctx.defer(() => clearInterval(sampler));
      progressEvery(ctx, (s) => `100 KB through a PMTU black hole: watching both clients (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
      const [naiveLarge, failure] = await Promise.all([
        fetch(naive, LARGE, NAIVE_WINDOW_MS, ctx.signal),
        (async () => {
          options.beforeLarge?.(hardened);
          hardened.socket.write(`${LARGE}\n`);
          return failureWithin(hardened, NAIVE_WINDOW_MS, ctx.signal);
        })(),
      ]);
      // The naive read may end early on an error; the window is what it gets either way.
      if (naiveLarge < LARGE) await wait(ctx, Math.max(0, NAIVE_WINDOW_MS - received.length * SAMPLE_MS));
      clearInterval(sampler);
      ctx.signal.throwIfAborted();
      await options.inspect?.({ small, naiveLarge, hardened, failure });

      const naiveFailed = naive.eventsSinceMark.find((e) => e.type === 'error' || e.type === 'close');
      const code = failure?.error === undefined ? 'close' : codeOf(failure.error);
      const smallOk = small.every((bytes) => bytes === SMALL);
      return {
        naive: {
          value: Number(seconds(NAIVE_WINDOW_MS)),
          unit: 's',
          text: `${naiveLarge} of ${LARGE} B after ${seconds(NAIVE_WINDOW_MS)} s, ${naiveFailed === undefined ? 'no error' : naiveFailed.type}`,
          ok: smallOk && naiveLarge < LARGE && naiveFailed === undefined,
          series: { label: 'naive: bytes of the 100 KB response received', unit: 'count', points: received.slice(0, 200) },
        },
        breakwater: judgeConfigured(
          ctx,
          {
            value: Number(seconds(failure?.atMs ?? NAIVE_WINDOW_MS)),
            unit: 's',
            text:
              failure === undefined
                ? `no error after ${seconds(NAIVE_WINDOW_MS)} s`
                : `${code} after ${seconds(failure.atMs)} s with ${hardened.bytesIn - SMALL} of ${LARGE} B`,
            ok: smallOk && code === 'BW_ERR_STALLED' && failure !== undefined && failure.atMs <= boundMs,
          },
          defeat,
          socket,
          STALL_KEYS,
        ),
        twin: await twin,
        notes: [
          `${SMALL} B responses: ${small[0]} B naive, ${small[1]} B Breakwater (both complete before the large request)`,
          `breakwater: ${whose(ctx, 'connect()', socket)} (stallTimeoutMs ${stallMs}, a reply owed after each write on a raw socket): bound ${seconds(boundMs)} s (at most the ${seconds(NAIVE_WINDOW_MS)} s window)`,
          'over HTTP the lost answer is BW_ERR_HEADERS_TIMEOUT at headersTimeoutMs (not retried), a large upload BW_ERR_STALLED (TCP_INFO: unacknowledged), a stopped body the body timeout',
        ],
      };
    },
  };
};

export const FM_06: Scenario = fm06();
