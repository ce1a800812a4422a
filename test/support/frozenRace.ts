import { BreakwaterError } from '@breakwater/core';
import { expect } from 'vitest';

export const PENDING = Symbol('pending');

export interface FrozenRace {
  /** Each hardened call's error (undefined when it succeeded) and when it settled, ms after the start. */
  results: { error: unknown; ms: number }[];
  /** What the naive call settled with, or `PENDING` when it was still waiting after `naiveWaitMs`. */
  naiveOutcome: unknown;
  naiveWaitedMs: number;
}

/**
 * Runs the hardened calls and the naive one at once against a frozen server (`kill -STOP`), watching the naive
 * one for `naiveWaitMs`: the drivers' "frozen server" tests. Errors are values, nothing rejects.
 */
export async function raceFrozen(hardened: (() => Promise<unknown>)[], naive: () => Promise<unknown>, naiveWaitMs: number): Promise<FrozenRace> {
  const started = performance.now();
  const naiveCall = naive().catch((e: unknown) => e);
  const [results, naiveOutcome] = await Promise.all([
    Promise.all(
      hardened.map((call) =>
        call().then(
          () => ({ error: undefined, ms: performance.now() - started }),
          (error: unknown) => ({ error, ms: performance.now() - started }),
        ),
      ),
    ),
    Promise.race([naiveCall, new Promise((r) => setTimeout(r, naiveWaitMs)).then(() => PENDING)]),
  ]);
  return { results, naiveOutcome, naiveWaitedMs: performance.now() - started };
}

/** Every hardened call failed `BW_ERR_DEADLINE` within a second of its deadline; the naive one was still waiting. */
export function expectDeadlineWhileNaiveHangs(race: FrozenRace, deadlineMs: number, naiveWaitMs: number): void {
  for (const { error, ms } of race.results) {
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({ code: 'BW_ERR_DEADLINE' });
    expect(ms).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(ms).toBeLessThan(deadlineMs + 1_000);
  }
  expect(race.naiveOutcome).toBe(PENDING);
  // The naive side was still pending when its naiveWaitMs timer fired; libuv runs timers on a loop clock
  // in whole ms read before `started`, so that timer can end up to 1 ms before performance.now() says
  // (seen in CI: 29,999.93 ms for 30,000).
  expect(race.naiveWaitedMs).toBeGreaterThanOrEqual(naiveWaitMs - 1);
}

/** "failed after 2001, 2003 ms (BW_ERR_DEADLINE, …)" and how long the naive side was watched, for the test log. */
export function describeRace(race: FrozenRace): string {
  const codes = race.results.map((r) => (r.error as BreakwaterError | undefined)?.code).join(', ');
  return `breakwater failed after ${race.results.map((r) => Math.round(r.ms)).join(', ')} ms (${codes}); naive still waiting after ${Math.round(race.naiveWaitedMs)} ms`;
}
