import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Clock, Deadline, monotonicClock } from '@breakwater/core';
import { connect } from '@breakwater/socket';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions } from './config-support.js';

/**
 * FM-15, wall-clock jumps (an NTP step, a VM resumed, `date -s`): the wall
 * clock jumps ±1 h a third of the way into 600 ms timeouts. The naive
 * timeout is computed from Date.now(), as hand-written code often is; it
 * fires an hour early on +1 h and not at all on −1 h. Breakwater's Deadline,
 * connect timeout and stall watchdog read the monotonic clock only and
 * must fire on time.
 *
 * The jump is made to this process's wall clock (`Date`), the way
 * CLOCK_REALTIME moves after `date -s`; the host's clock is never touched
 * (that would disturb everything else on the machine, and a time namespace
 * cannot move CLOCK_REALTIME). Replacing `Date` is process-wide, so the
 * scenario is exclusive: nothing else runs beside it.
 *
 * The timers run on the clock the user's socket options give (`clock`,
 * the monotonic clock by default). Healthy twin: the same three timers
 * with no jump at all must fire on time too: not early, not past timer slack.
 */

const TIMEOUT_MS = 600;
/** Late by more than this is "late": timer slack on a loaded machine, not a clock jump. */
const TOLERANCE_MS = 300;
/** Fired this much before the timeout is "early"; the jump lands at a third of it, so a naive timer fires ≈ 400 ms early. */
const EARLY_MS = 100;
/** The naive timeout is given up on after this long (on −1 h it would fire an hour late). */
const NAIVE_GIVE_UP_MS = TIMEOUT_MS * 3;

/** Swaps `Date` for one whose now() and `new Date()` are shifted by a settable offset. */
function shiftableWallClock(): { jump(ms: number): void; restore(): void } {
  const RealDate = globalThis.Date;
  let offset = 0;
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...(args as [string | number]));
    }
    static override now(): number {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
  return {
    jump: (ms) => {
      offset += ms;
    },
    restore: () => {
      globalThis.Date = RealDate;
    },
  };
}

interface JumpResult {
  /** When the Date.now() timeout fired, or NAIVE_GIVE_UP_MS when it had not. */
  naiveMs: number;
  naiveFired: boolean;
  /** Deadline, connect timeout, stall watchdog. */
  breakwaterMs: [number, number, number];
}

const elapsed = (started: number) => performance.now() - started;
/** On time: not early (timers never fire early by themselves), not past timer slack on a loaded machine. */
const onTime = (ms: number) => ms - TIMEOUT_MS >= -5 && ms - TIMEOUT_MS <= TOLERANCE_MS;

/** `work`, or the scenario's abort reason if it comes first. */
function unlessAborted<T>(ctx: ScenarioContext, work: Promise<T>): Promise<T> {
  const aborted = new Promise<never>((_, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  return Promise.race([work, aborted]);
}

/**
 * Breakwater's three timers, {@link TIMEOUT_MS} each, on `clock`: a Deadline,
 * a connect timeout (a name that never resolves) and the stall watchdog of a
 * connection to `port`, whose server never answers. `fired` resolves with
 * when each fired, in ms after `started`; it rejects on any other error than
 * BW_ERR_CONNECT_TIMEOUT / BW_ERR_STALLED. What they open is closed by `cleanups`.
 */
async function armTimers(port: number, clock: Clock, cleanups: (() => void)[]): Promise<{ started: number; fired: Promise<[number, number, number]> }> {
  const silent = await connect({ host: '127.0.0.1', port, stallTimeoutMs: TIMEOUT_MS, clock });
  cleanups.push(() => silent.destroy());
  const started = performance.now();
  const deadline = Deadline.after(TIMEOUT_MS, { clock });
  cleanups.push(() => deadline[Symbol.dispose]());
  const deadlineFired = new Promise<number>((resolve) => deadline.signal.addEventListener('abort', () => resolve(elapsed(started))));
  // Aborted at cleanup: a connect timer on a clock jumped back would otherwise stay armed for an hour.
  const abandon = new AbortController();
  cleanups.push(() => abandon.abort());
  const connectTimedOut = connect({
    host: 'hang.invalid',
    port,
    connectTimeoutMs: TIMEOUT_MS,
    clock,
    signal: abandon.signal,
    lookup: () => new Promise(() => {}),
  }).then(
    (s) => {
      s.destroy();
      throw new Error('connect to a name that never resolves succeeded');
    },
    (err: { code?: string }) => {
      if (err.code !== 'BW_ERR_CONNECT_TIMEOUT') throw new Error(`connect failed with ${err.code ?? String(err)}, not BW_ERR_CONNECT_TIMEOUT`);
      return elapsed(started);
    },
  );
  const stalled = new Promise<number>((resolve, reject) => {
    silent.once('error', (err: { code?: string }) =>
      err.code === 'BW_ERR_STALLED' ? resolve(elapsed(started)) : reject(new Error(`the silent socket failed with ${err.code}, not BW_ERR_STALLED`)),
    );
    silent.write('a request nobody answers');
  });
  // Given up on like the naive timeout: a timer on a clock that jumped back an hour would hold the row past its budget.
  const giveUp = new Promise<number>((resolve) => {
    const t = setTimeout(() => resolve(NAIVE_GIVE_UP_MS), NAIVE_GIVE_UP_MS);
    cleanups.push(() => clearTimeout(t));
  });
  const fired = [deadlineFired, connectTimedOut, stalled].map((p) => Promise.race([p, giveUp]));
  return { started, fired: Promise.all(fired) as Promise<[number, number, number]> };
}

/** Timers given up on ({@link NAIVE_GIVE_UP_MS}) among `fired`. */
const givenUp = (fired: number[]) => fired.filter((ms) => ms >= NAIVE_GIVE_UP_MS).length;

async function oneJump(ctx: ScenarioContext, jumpMs: number, port: number, clock: Clock): Promise<JumpResult> {
  const wall = shiftableWallClock();
  const timers: NodeJS.Timeout[] = [];
  const cleanups: (() => void)[] = [];
  ctx.defer(() => wall.restore());
  try {
    const { started, fired } = await armTimers(port, clock, cleanups);
    timers.push(setTimeout(() => wall.jump(jumpMs), TIMEOUT_MS / 3));
    const wallDeadline = Date.now() + TIMEOUT_MS;
    const naive = new Promise<{ ms: number; fired: boolean }>((resolve) => {
      const poll = setInterval(() => {
        const fired = Date.now() >= wallDeadline;
        if (fired || elapsed(started) >= NAIVE_GIVE_UP_MS) {
          clearInterval(poll);
          resolve({ ms: elapsed(started), fired });
        }
      }, 5);
      cleanups.push(() => clearInterval(poll));
    });
    const [n, bw] = await unlessAborted(ctx, Promise.all([naive, fired]));
    return { naiveMs: n.ms, naiveFired: n.fired, breakwaterMs: bw };
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const c of cleanups) c();
    wall.restore();
  }
}

/**
 * Healthy twin: the same three timers on `clock` with no jump at all (a
 * server on `port` that accepts and never answers). Passes when each fires
 * within −5…+{@link TOLERANCE_MS} ms of {@link TIMEOUT_MS}.
 */
export async function onTimeTwin(ctx: ScenarioContext, port: number, clock: Clock): Promise<Measurement> {
  const cleanups: (() => void)[] = [];
  try {
    const fired = (
      await unlessAborted(
        ctx,
        armTimers(port, clock, cleanups).then((t) => t.fired),
      )
    ).map(Math.round);
    const worst = fired.reduce((a, b) => (Math.abs(b - TIMEOUT_MS) > Math.abs(a - TIMEOUT_MS) ? b : a));
    return {
      value: Math.abs(worst - TIMEOUT_MS),
      unit: 'ms',
      text: `no jump: Deadline ${fired[0]}, connect ${fired[1]}, stall ${fired[2]} ms`,
      ok: fired.every(onTime),
      series: { label: `twin, no jump: Deadline, connect, stall fired after (ms; ${TIMEOUT_MS} ms asked)`, unit: 'ms', points: fired },
    };
  } finally {
    for (const c of cleanups) c();
  }
}

const sign = (jumpMs: number) => (jumpMs > 0 ? '+1 h' : '−1 h');

export const fm15: Scenario = {
  id: 'FM-15',
  title: 'Clock skew / wall-clock jumps',
  bound: `no timer fires early or late: each ${TIMEOUT_MS} ms timeout within −5…+${TOLERANCE_MS} ms with the wall clock jumped ±1 h mid-wait`,
  naiveExpectation: 'a Date.now() timeout fires early on +1 h and not on time on −1 h',
  twinExpectation: `no jump: Deadline, connect timeout and stall watchdog each fire within −5…+${TOLERANCE_MS} ms of ${TIMEOUT_MS} ms`,
  requires: [],
  budgetMs: 15_000,
  exclusive: true,
  async run(ctx) {
    const accepted = new Set<net.Socket>();
    const server = net.createServer((s) => {
      accepted.add(s);
      s.on('error', () => {});
    });
    ctx.defer(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of accepted) s.destroy();
        }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;

    // The clock the user's socket options give (the monotonic one by default); their other options are the scenario's.
    const { clock } = ctx.config.effectiveSocket;
    const results = new Map<number, JumpResult>();
    for (const jumpMs of [3_600_000, -3_600_000]) {
      ctx.progress(`wall clock ${sign(jumpMs)} during ${TIMEOUT_MS} ms timeouts`);
      results.set(jumpMs, await oneJump(ctx, jumpMs, port, clock));
    }
    ctx.progress(`healthy twin: ${TIMEOUT_MS} ms timeouts, no jump`);
    const twin = blameOptions(ctx, await onTimeTwin(ctx, port, clock), ctx.config, ['socket.clock']);
    const forward = results.get(3_600_000)!;
    const backward = results.get(-3_600_000)!;
    const fired = [...forward.breakwaterMs, ...backward.breakwaterMs];
    const worst = fired.map((ms) => ms - TIMEOUT_MS).reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
    const naiveEarly = TIMEOUT_MS - forward.naiveMs;
    // Early: well before the timeout (timers never fire early by themselves); late: past any timer slack.
    const naiveOk = forward.naiveFired && forward.naiveMs < TIMEOUT_MS - EARLY_MS && backward.naiveMs > TIMEOUT_MS + TOLERANCE_MS;
    return {
      naive: {
        value: Math.round(Math.max(naiveEarly, backward.naiveMs - TIMEOUT_MS)),
        unit: 'ms',
        // Short enough for the table's 40-character cell.
        text: `${Math.round(naiveEarly)} ms early (+1 h); ${backward.naiveFired ? `fired at ${Math.round(backward.naiveMs)} ms` : `silent ${(backward.naiveMs / 1000).toFixed(1)} s`} (−1 h)`,
        ok: naiveOk,
        series: {
          label: `Date.now() timeout fired after (ms), +1 h then −1 h (${TIMEOUT_MS} ms asked)`,
          unit: 'ms',
          points: [forward.naiveMs, backward.naiveMs].map(Math.round),
        },
      },
      breakwater: {
        value: Math.round(Math.abs(worst)),
        unit: 'ms',
        text:
          (givenUp(fired) > 0
            ? `${givenUp(fired)} of 6 timers silent after ${NAIVE_GIVE_UP_MS / 1000} s`
            : `all 6 timers within ${Math.round(Math.abs(worst))} ms of ${TIMEOUT_MS} ms`) +
          (fired.every(onTime) || clock === monotonicClock
            ? ''
            : `: a timer on socket.clock (your option) fired ${Math.round(Math.abs(worst))} ms ${worst > 0 ? 'late' : 'early'}`),
        ok: fired.every(onTime),
        series: { label: 'Deadline, connect, stall fired after (ms), +1 h then −1 h', unit: 'ms', points: fired.map(Math.round) },
      },
      twin,
      notes: [
        `the wall clock was moved inside this process only (Date); the host clock was not touched. On −1 h the naive timeout would fire an hour late; it was given up on after ${NAIVE_GIVE_UP_MS} ms.`,
        `healthy twin: the same three ${TIMEOUT_MS} ms timers with the wall clock left alone; ` +
          (clock === monotonicClock
            ? 'every timer here ran on the monotonic clock (the default).'
            : "every timer here ran on the clock your socket options give (`socket.clock`); the timeouts are the scenario's."),
      ],
    };
  },
};
