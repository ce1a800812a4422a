import type { Measurement, ScenarioContext } from '../types.js';

/**
 * How a row holds the user's configuration ({@link ScenarioContext.config}).
 * Where the catalogue's bound is computed from an option (FM-01: keepalive,
 * FM-02: user/stall timeout, FM-05: connect timeout, FM-06: stall timeout),
 * the row checks the bound the user's options give, and that bound may not
 * pass the row's ceiling: the window in which the naive side was shown to
 * hang, as docs/failure-modes.md states it. Options that move the bound past
 * the ceiling defeat the defence, and the row fails saying which.
 */
export interface ConfiguredBound {
  /** What the measurement is checked against: the user's bound, at most the ceiling. */
  boundMs: number;
  /** Set when the user's options put the bound past the ceiling, e.g. `stallTimeoutMs 120000 → … after 120 s, bound 20 s`. */
  defeat?: string;
}

const s = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/**
 * @param detectMs when the user's options detect the fault (Infinity: never).
 * @param slackMs  the catalogue's allowance on top (`+ 1 s`).
 * @param knobs    the options that set `detectMs`, as the config spells them: `stallTimeoutMs 120000`.
 * @param what     the consequence, e.g. `a dead peer mid-request is reported`.
 */
export function configuredBound(detectMs: number, slackMs: number, ceilingMs: number, knobs: string, what: string): ConfiguredBound {
  const boundMs = Math.min(detectMs + slackMs, ceilingMs);
  if (detectMs + slackMs <= ceilingMs) return { boundMs };
  const when = Number.isFinite(detectMs) ? `after ${s(detectMs)}` : 'never (the option is off)';
  return { boundMs, defeat: `${knobs} → ${what} ${when}, bound ${s(ceilingMs)}` };
}

/** The measurement failed with the defeat's message in its text; unchanged without one. */
export function withDefeat(measurement: Measurement, defeat: string | undefined): Measurement {
  return defeat === undefined ? measurement : { ...measurement, ok: false, text: `${measurement.text}: ${defeat}` };
}

/** `connect() defaults` or `connect() with your options (stallTimeoutMs 120000)`, for the notes. */
export function whose(ctx: ScenarioContext, factory: string, given: object): string {
  const keys = Object.entries(given)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === 'object' || typeof v === 'function' ? '…' : String(v)}`);
  if (!ctx.config.given || keys.length === 0) return `${factory} defaults`;
  return `${factory} with your options (${keys.join(', ')})`;
}

/** The note of a row that cannot take the user's options, and why; none when the user gave none. */
export function notApplied(ctx: ScenarioContext, why: string): string[] {
  return ctx.config.given ? [`your config is not applied to this row: ${why}`] : [];
}
