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
 * @param off      what is off when `detectMs` is Infinity, e.g. `keepalive`.
 */
export function configuredBound(detectMs: number, slackMs: number, ceilingMs: number, knobs: string, what: string, off = 'the option'): ConfiguredBound {
  const boundMs = Math.min(detectMs + slackMs, ceilingMs);
  if (detectMs + slackMs <= ceilingMs) return { boundMs };
  const when = Number.isFinite(detectMs) ? `after ${s(detectMs)}` : `never (${off} is off)`;
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

/**
 * A failed twin's text with the user's options that govern it appended,
 * `…: connectTimeoutMs 500 (your option)`; unchanged when it passed, when the
 * user gave no config, or none of `keys` is set in `options`.
 */
export function blameOptions(ctx: ScenarioContext, measurement: Measurement, options: object, keys: readonly string[]): Measurement {
  if (measurement.ok || !ctx.config.given) return measurement;
  const set = keys.filter((k) => (options as Record<string, unknown>)[k] !== undefined);
  if (set.length === 0) return measurement;
  const value = (v: unknown) => (typeof v === 'object' || typeof v === 'function' ? '…' : String(v));
  const named = set.map((k) => `${k} ${value((options as Record<string, unknown>)[k])}`).join(', ');
  return { ...measurement, text: `${measurement.text}: ${named} (your option${set.length === 1 ? '' : 's'})` };
}

/**
 * When Linux keepalive reports a dead idle peer: after `count` probes, or with
 * TCP_USER_TIMEOUT set at the first probe tick by which it has passed (the
 * count is then ignored); Infinity with keepalive off. Matches the socket
 * package's `applied.keepAlive.detectWithinMs` where both are native.
 */
export function keepAliveDetectMs(o: { keepAliveIdleMs: number; keepAliveIntervalMs: number; keepAliveCount: number; userTimeoutMs: number }): number {
  if (o.keepAliveIdleMs === 0) return Number.POSITIVE_INFINITY;
  const ticks = o.userTimeoutMs > 0 ? Math.max(1, Math.ceil((o.userTimeoutMs - o.keepAliveIdleMs) / o.keepAliveIntervalMs)) : o.keepAliveCount;
  return o.keepAliveIdleMs + ticks * o.keepAliveIntervalMs;
}

/**
 * What a keepalive row checks against: the catalogue's bound (idle + interval
 * × count), or the kernel's later detection under a longer TCP_USER_TIMEOUT.
 * Never tighter than the catalogue: an earlier kernel verdict (11 s for the
 * defaults) is welcome, not a new bound a loaded host must keep.
 */
export function keepAliveBoundMs(o: { keepAliveIdleMs: number; keepAliveIntervalMs: number; keepAliveCount: number; userTimeoutMs: number }): number {
  const detect = keepAliveDetectMs(o);
  return Number.isFinite(detect) ? Math.max(detect, o.keepAliveIdleMs + o.keepAliveIntervalMs * o.keepAliveCount) : detect;
}
