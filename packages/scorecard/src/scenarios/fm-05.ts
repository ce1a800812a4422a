import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ECHO_SERVER, quietFor, type SocketEvent, SocketWatch, type Topology, tcpInfo } from '@breakwater/chaos';
import { connect, type SocketOptions } from '@breakwater/socket';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, whose, withDefeat } from './config-support.js';
import { codeOf, progressEvery, readyPort, scenarioTopology, seconds, untilAborted, wait } from './kernel-support.js';

// FM-05, silent SYN drop: a firewall, a full conntrack table or a full accept
// queue drops the SYN without answering. net.connect has no connect timeout:
// only the kernel's SYN retries end it (≈ 127 s, 131 s on Linux ≥ 6.5). Both
// clients connect at the same moment to a port whose SYNs are dropped.
// Healthy twin: a server that drops SYNs only for its first half second (a
// backlog full for a moment) is reached on the SYN retransmit, ≈ 1 s later.

/** Past the Breakwater bound (connect timeout + 0.5 s = 3.5 s) with a wide margin. */
const NAIVE_WINDOW_MS = 10_000;
/** The twin's server drops SYNs this long: the first SYN is lost, its retransmit (1 s later) accepted. */
const SLOW_ACCEPT_MS = 500;

/**
 * Healthy twin: a second echo server in `topo` whose SYNs are dropped for
 * SLOW_ACCEPT_MS after the connect starts, by connect() with `options`.
 * Healthy: connected (≈ 1 s, on the SYN retransmit) and an echo answered.
 */
export async function slowAcceptTwin(ctx: ScenarioContext, topo: Topology, options: SocketOptions): Promise<Measurement> {
  const port = await readyPort(ctx, topo.server.spawnNode(ECHO_SERVER).ready);
  const rule = await topo.server.nft.dropSyn(port);
  const started = performance.now();
  const connecting = connect({ ...options, host: topo.server.address, port });
  // Observed below; this keeps an abort during the wait from leaving its rejection unhandled.
  connecting.catch(() => {});
  await wait(ctx, SLOW_ACCEPT_MS);
  await rule.remove();
  const outcome = await untilAborted(
    ctx,
    connecting.then(
      async (socket) => {
        ctx.defer(() => socket.destroy());
        const atMs = performance.now() - started;
        const echoed = await new Promise<boolean>((resolve) => {
          socket.once('data', (d) => resolve(d.toString() === 'ping'));
          socket.once('error', () => resolve(false));
          socket.write('ping');
        });
        return { atMs, code: echoed ? 'connected' : 'no echo' };
      },
      (error: unknown) => ({ atMs: performance.now() - started, code: codeOf(error) }),
    ),
  );
  return {
    value: Number(seconds(outcome.atMs)),
    unit: 's',
    text: `${outcome.code === 'connected' ? 'connected, echo answered' : outcome.code} after ${seconds(outcome.atMs)} s`,
    ok: outcome.code === 'connected',
  };
}

/** What a test sees once the window is over (the naive connect still open). */
export interface Fm05Outcome {
  topology: Topology;
  naive: SocketWatch;
  naiveEvent: SocketEvent | undefined;
  /** `performance.now()` when both connects started. */
  startedAt: number;
}

export interface Fm05Options {
  /** Called after the window; the scenario's budget grows by `inspectMs` for it. */
  inspect?(outcome: Fm05Outcome): Promise<void> | void;
  /** @defaultValue 0 */
  inspectMs?: number;
}

/** FM-05, with a test's extra look at the naive connect after the window. */
export const fm05 = (options: Fm05Options = {}): Scenario => ({
  id: 'FM-05',
  title: 'Silent SYN drop (firewall, conntrack, backlog full)',
  bound: 'error ≤ connect timeout + 0.5 s',
  naiveExpectation: `connect still pending after ${seconds(NAIVE_WINDOW_MS)} s`,
  twinExpectation: `a server dropping SYNs for its first ${SLOW_ACCEPT_MS} ms (reachable, slow to accept): connects on the SYN retransmit`,
  requires: ['netns'],
  budgetMs: 30_000 + (options.inspectMs ?? 0),
  async run(ctx) {
    const { connectTimeoutMs } = ctx.config.effectiveSocket;
    const { boundMs, defeat } = configuredBound(connectTimeoutMs, 500, NAIVE_WINDOW_MS, `connectTimeoutMs ${connectTimeoutMs}`, 'a dropped SYN is reported');
    const topo = await scenarioTopology(ctx);
    const port = await readyPort(ctx, topo.server.spawnNode(ECHO_SERVER).ready);
    await topo.server.nft.dropSyn(port);

    // Beside the SYN-drop window, in the same namespaces: it adds no wall time.
    const socketOptions: SocketOptions = { ...ctx.config.socket }; // the user's connect() options (defaults), for the Breakwater side and its twin
    const twin = slowAcceptTwin(ctx, topo, socketOptions).then((m) => blameOptions(ctx, m, socketOptions, ['connectTimeoutMs', 'attemptDelayMs']));
    twin.catch(() => {});
    const naive = new SocketWatch(net.connect({ host: topo.server.address, port }));
    ctx.defer(() => naive.socket.destroy());
    const started = performance.now();
    // The signal ends a connect the user's options let run past the window (aborted when the scenario settles).
    const hardened = connect({ ...socketOptions, host: topo.server.address, port, signal: ctx.signal }).then(
      (socket) => {
        // Not expected: the SYN was not dropped. Close it; the result says so.
        socket.destroy();
        return { atMs: performance.now() - started, code: 'connected' };
      },
      (error: unknown) => ({ atMs: performance.now() - started, code: codeOf(error) }),
    );
    progressEvery(ctx, (s) => `SYNs dropped: both clients connecting (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
    const [naiveEvent, outcome] = await Promise.all([
      quietFor([naive], NAIVE_WINDOW_MS, ['connect', 'error', 'close'], ctx.signal),
      // Watched for the window, like the naive side: a connect timeout past it is a finding, not a hang.
      untilAborted(ctx, Promise.race([hardened, wait(ctx, NAIVE_WINDOW_MS).then(() => ({ atMs: NAIVE_WINDOW_MS, code: 'still connecting' }))])),
    ]);
    ctx.signal.throwIfAborted();
    const info = naiveEvent === undefined ? await tcpInfo(naive.socket, topo.server.address) : undefined;
    const pending = naiveEvent === undefined && naive.socket.connecting;
    await options.inspect?.({ topology: topo, naive, naiveEvent, startedAt: started });

    return {
      naive: {
        value: Number(seconds(naiveEvent?.atMs ?? NAIVE_WINDOW_MS)),
        unit: 's',
        text: pending
          ? `still connecting after ${seconds(NAIVE_WINDOW_MS)} s, no error`
          : `${naiveEvent?.type ?? 'settled'} after ${seconds(naiveEvent?.atMs ?? 0)} s`,
        ok: pending,
      },
      breakwater: withDefeat(
        {
          value: Number(seconds(outcome.atMs)),
          unit: 's',
          text: `${outcome.code} after ${seconds(outcome.atMs)} s`,
          ok: outcome.code === 'BW_ERR_CONNECT_TIMEOUT' && outcome.atMs <= boundMs,
        },
        defeat,
      ),
      twin: await twin,
      notes: [
        `naive: net.connect, ${info?.state ?? '?'} with ${info?.retransmits ?? '?'} SYN retransmissions after ${seconds(NAIVE_WINDOW_MS)} s; the kernel reports ETIMEDOUT after ≈ 127 s (tcp_syn_retries = 6)`,
        `breakwater: ${whose(ctx, 'connect()', ctx.config.socket)} (connectTimeoutMs ${connectTimeoutMs}): bound ${seconds(boundMs)} s (at most the ${seconds(NAIVE_WINDOW_MS)} s window)`,
      ],
    };
  },
});

export const FM_05: Scenario = fm05();
