import { connectWatched, ECHO_SERVER, echoRoundTrip, failureWithin, quietFor, type SocketEvent, SocketWatch, type Topology } from '@breakwater/chaos';
import { type AppliedOptions, connect, guardOf, SOCKET_DEFAULTS, type SocketOptions } from '@breakwater/socket';
import { describeGiven } from '../config.js';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, judgeConfigured, keepAliveBoundMs, whose } from './config-support.js';
import { codeOf, failedInTime, progressEvery, readyPort, scenarioTopology, seconds, silence, wait } from './kernel-support.js';

// FM-01, the zombie connection: an idle connection's peer crashes and no FIN
// or RST ever arrives. One topology, both clients idle on the same server:
// every packet of its port is dropped both ways, then the server is
// SIGKILLed (its FIN is dropped too). Naive: net.connect with
// setKeepAlive(true) (Node's delay: the kernel's 2 h). Breakwater: connect()
// with its defaults (keepalive 5 s + 2 s × 5).
// Healthy twin: a connection to a live peer, idle for the whole window (past
// the detection bound), whose path goes down for 4 s meanwhile (a flapping
// link): keepalive probes are answered before and after, so it must stay up.

/** The naive side is watched this long: past the Breakwater bound (≤ 17 s) with a margin. */
const DEFAULT_WINDOW_MS = 20_000;
const DEFAULT_DETECT_MS = keepAliveBoundMs(SOCKET_DEFAULTS);

/** The twin's path is down this long: the defaults ride it out (5 probes 2 s apart, TCP_USER_TIMEOUT 10 s since the last answer). */
const OUTAGE_MS = 4_000;
/** The options that decide when an idle peer is declared dead, as the config spells them. */
const KEEPALIVE_KEYS = ['keepAliveIdleMs', 'keepAliveIntervalMs', 'keepAliveCount', 'userTimeoutMs'];
/** The outage starts this far into the twin's idle time: past the default keepalive idle (5 s), so probes are being answered. */
const OUTAGE_AT_MS = 6_000;

/**
 * Healthy twin: a connection by connect() with `options` to a second echo
 * server in `topo`, idle for `idleMs` after one echo, with every packet of
 * that server's port dropped both ways from OUTAGE_AT_MS for OUTAGE_MS (a
 * flapping link; the peer stays alive). Healthy: no error in `idleMs`, and an
 * echo still comes back at the end. A keepalive that gives up within the
 * outage (1 s idle, 1 s × 2, user timeout 2 s) fails it.
 */
export async function idlePeerTwin(ctx: ScenarioContext, topo: Topology, options: SocketOptions, idleMs: number): Promise<Measurement> {
  const port = await readyPort(ctx, topo.server.spawnNode(ECHO_SERVER).ready);
  const watch = new SocketWatch(await connect({ ...options, host: topo.server.address, port }));
  ctx.defer(() => watch.socket.destroy());
  await echoRoundTrip(watch, 'hello');
  const failing = failureWithin(watch, idleMs, ctx.signal);
  await wait(ctx, OUTAGE_AT_MS);
  const outage = await topo.server.nft.blackholePort(port);
  await wait(ctx, OUTAGE_MS);
  await outage.remove();
  const failure = await failing;
  ctx.signal.throwIfAborted();
  const path = `path down ${seconds(OUTAGE_AT_MS)}–${seconds(OUTAGE_AT_MS + OUTAGE_MS)} s`;
  if (failure !== undefined) {
    const code = failure.error === undefined ? 'close' : codeOf(failure.error);
    return { value: Number(seconds(failure.atMs)), unit: 's', text: `${code} after ${seconds(failure.atMs)} s idle (${path})`, ok: false };
  }
  const echoed = await echoRoundTrip(watch, 'still there').then(
    () => true,
    () => false,
  );
  return {
    value: Number(seconds(idleMs)),
    unit: 's',
    text: `idle ${seconds(idleMs)} s (${path}): no error, ${echoed ? 'echo answered' : 'but no echo'}`,
    ok: echoed,
  };
}

/** What a test sees of the run once the window is over (the sockets are still open). */
export interface Fm01Outcome {
  naive: SocketWatch;
  hardened: SocketWatch;
  /** The first event on the naive socket in the window, if any. */
  naiveEvent: SocketEvent | undefined;
  /** The Breakwater socket's failure, if it came in the window. */
  failure: { atMs: number; error?: Error } | undefined;
  /** The keepalive harden() applied, read while the socket was open (a closed socket has no guard any more). */
  keepAlive: AppliedOptions['keepAlive'] | undefined;
}

export interface Fm01Options {
  /** How long both sides are watched. @defaultValue 20_000 */
  windowMs?: number;
  /** The naive socket's setKeepAlive(true) (Node's delay, the kernel's 2 h); false leaves keepalive off. @defaultValue true */
  naiveKeepAlive?: boolean;
  /** Options for the Breakwater side's connect(), e.g. `{ native: false }`. */
  socket?: SocketOptions;
  /** Called after the window with both sockets and what they saw. */
  inspect?(outcome: Fm01Outcome): Promise<void> | void;
}

/** FM-01 with another window, naive keepalive or Breakwater socket options. */
export const fm01 = (options: Fm01Options = {}): Scenario => {
  const NAIVE_WINDOW_MS = options.windowMs ?? DEFAULT_WINDOW_MS;
  return {
    id: 'FM-01',
    title: 'Zombie connection (idle peer gone, no FIN)',
    bound: 'error ≤ keepalive idle + interval × count + 2 s',
    naiveExpectation: `no error in ${seconds(NAIVE_WINDOW_MS)} s`,
    twinExpectation: `a live peer idle ${seconds(NAIVE_WINDOW_MS)} s, its path down ${seconds(OUTAGE_MS)} s meanwhile (keepalive probes answered before and after): no error, still echoes`,
    requires: ['netns'],
    budgetMs: NAIVE_WINDOW_MS + 20_000,
    async run(ctx) {
      const topo = await scenarioTopology(ctx);
      const server = topo.server.spawnNode(ECHO_SERVER);
      const port = await readyPort(ctx, server.ready);
      const socket = { ...ctx.config.socket, ...options.socket };
      // Beside the window, on its own server and port in the same namespaces: it adds no wall time.
      const twin = idlePeerTwin(ctx, topo, socket, NAIVE_WINDOW_MS).then((m) => blameOptions(ctx, m, socket, KEEPALIVE_KEYS));
      twin.catch(() => {});

      const naive = await connectWatched(topo.server.address, port);
      ctx.defer(() => naive.socket.destroy());
      if (options.naiveKeepAlive !== false) naive.socket.setKeepAlive(true);
      const hardened = new SocketWatch(await connect({ ...socket, host: topo.server.address, port }));
      ctx.defer(() => hardened.socket.destroy());
      const keepAlive = guardOf(hardened.socket)?.applied.keepAlive;
      // The path works before the fault.
      await Promise.all([echoRoundTrip(naive, 'hello'), echoRoundTrip(hardened, 'hello')]);

      naive.mark();
      await topo.server.nft.blackholePort(port);
      await server.kill();
      progressEvery(ctx, (s) => `peer gone without FIN: watching both clients (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
      const [naiveEvent, failure] = await Promise.all([
        quietFor([naive], NAIVE_WINDOW_MS, undefined, ctx.signal),
        failureWithin(hardened, NAIVE_WINDOW_MS, ctx.signal),
      ]);
      ctx.signal.throwIfAborted();
      await options.inspect?.({ naive, hardened, naiveEvent, failure, keepAlive });

      // The bound the applied keepalive gives (the user's options, under TCP_USER_TIMEOUT when set), at most the window.
      const applied = guardOf(hardened.socket)?.applied.userTimeout;
      const kernelMs = keepAlive === undefined || Number.isNaN(keepAlive.detectWithinMs) ? DEFAULT_DETECT_MS : keepAlive.detectWithinMs;
      // Never tighter than the catalogue's idle + interval × count (the kernel may answer sooner under a user timeout).
      const detect =
        keepAlive === undefined || !Number.isFinite(kernelMs) ? kernelMs : Math.max(kernelMs, keepAlive.idleMs + keepAlive.intervalMs * keepAlive.count);
      // The keepalive options the user (or the preset) set, as the config spells them; the applied values when they set none.
      const knobs =
        describeGiven(socket, KEEPALIVE_KEYS) ||
        `keepAliveIdleMs ${keepAlive?.idleMs}, keepAliveIntervalMs ${keepAlive?.intervalMs}, keepAliveCount ${keepAlive?.count}${applied?.mechanism === 'native' ? `, userTimeoutMs ${applied.timeoutMs}` : ''}`;
      const { boundMs, defeat } = configuredBound(detect, 2_000, NAIVE_WINDOW_MS, knobs, 'an idle dead peer is reported', 'keepalive');
      return {
        naive: silence(naiveEvent, NAIVE_WINDOW_MS),
        // PEER_TIMEOUT from keepalive; STALLED should the watchdog see it first.
        breakwater: judgeConfigured(ctx, failedInTime(failure, NAIVE_WINDOW_MS, boundMs, ['BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED']), defeat, socket, [
          ...KEEPALIVE_KEYS,
          'stallTimeoutMs',
        ]),
        twin: await twin,
        notes: [
          options.naiveKeepAlive === false
            ? 'naive: net.connect defaults (keepalive off); the kernel would report nothing, ever'
            : `naive: net.connect + setKeepAlive(true) (Node's delay, i.e. the kernel's 2 h idle); the kernel would report nothing for ≈ 2 h 11 min`,
          `breakwater: ${whose(ctx, 'connect()', socket)}, keepalive ${keepAlive?.mechanism ?? '?'} ${seconds(keepAlive?.idleMs ?? 0)} s + ${seconds(keepAlive?.intervalMs ?? 0)} s × ${keepAlive?.count ?? '?'}: bound ${seconds(boundMs)} s`,
        ],
      };
    },
  };
};

export const FM_01: Scenario = fm01();
