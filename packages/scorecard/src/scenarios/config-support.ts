import { type HttpClientOptions, previewLayers } from '@breakwater/http';
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

/** The value at `path` in `options`: `socket.stallTimeoutMs` reads `options.socket.stallTimeoutMs`. */
function at(options: object, path: string): unknown {
  let value: unknown = options;
  for (const part of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  return value;
}

/** The preset's resolved `http` section when `options` carry one (`{ preset, ...yours }`, createClient()'s), else none. */
function presetHttpOf(options: object): Record<string, unknown> {
  const preset = (options as { preset?: unknown }).preset;
  const http = typeof preset === 'object' && preset !== null ? (preset as { http?: unknown }).http : undefined;
  return typeof http === 'object' && http !== null ? (http as Record<string, unknown>) : {};
}

const shown = (v: unknown) => (typeof v === 'object' || typeof v === 'function' ? '…' : String(v));

/** `attemptTimeoutMs 10000, deadlineMs 30300 (your preset)`, or '' for no keys. */
function named(keys: readonly string[], read: (k: string) => unknown, whose: string): string {
  if (keys.length === 0) return '';
  return `${keys.map((k) => `${k} ${shown(read(k))}`).join(', ')} (${whose})`;
}

/**
 * `layers (your stack, without retry, circuit)`: the user's `http.layers` edit, with the built-in roles
 * it removed from the default stack; undefined when the options keep the default stack.
 */
export function stackOf(http: HttpClientOptions): string | undefined {
  if (http.layers === undefined) return undefined;
  const roles = (o: HttpClientOptions) => previewLayers(o).map((l) => l.role);
  let missing: string[] = [];
  try {
    const kept = new Set(roles(http));
    missing = roles({ ...http, layers: undefined }).filter((r) => !kept.has(r));
  } catch {
    // A stack the config check let through but that cannot be previewed again: named without its roles.
  }
  return `layers (your stack${missing.length === 0 ? '' : `, without ${missing.join(', ')}`})`;
}

/**
 * A failed twin's (or Breakwater side's) text with the user's options that
 * govern it appended, `…: connectTimeoutMs 500 (your option)`; unchanged when
 * it passed, when the user gave no config, or none of `keys` is set in
 * `options`. A key may be a path into a nested section, `socket.stallTimeoutMs`,
 * and is named so. A key the user left to a preset's `http` section (options
 * of the form `{ preset, ...yours }`) is named as the preset's:
 * `attemptTimeoutMs 10000 (your preset)`; `layers` by the built-in roles the
 * user's stack lacks ({@link stackOf}).
 */
export function blameOptions(ctx: ScenarioContext, measurement: Measurement, options: object, keys: readonly string[]): Measurement {
  if (measurement.ok || !ctx.config.given) return measurement;
  const presetHttp = presetHttpOf(options);
  // `layers` is named by what the stack lacks, not by its value (a function).
  const stack = keys.includes('layers') ? (stackOf(options as HttpClientOptions) ?? '') : '';
  const yours = keys.filter((k) => k !== 'layers' && at(options, k) !== undefined);
  const preset = keys.filter((k) => k !== 'layers' && at(options, k) === undefined && presetHttp[k] !== undefined);
  const parts = [
    stack,
    named(yours, (k) => at(options, k), yours.length === 1 ? 'your option' : 'your options'),
    named(preset, (k) => presetHttp[k], 'your preset'),
  ].filter((p) => p !== '');
  return parts.length === 0 ? measurement : { ...measurement, text: `${measurement.text}: ${parts.join(', ')}` };
}

/**
 * The Breakwater side of a row whose bound comes from the user's options:
 * failed with the defeat's text when the options put the bound past the
 * ceiling ({@link withDefeat}), else, when it missed, with the options of
 * `keys` named ({@link blameOptions}).
 */
export function judgeConfigured(
  ctx: ScenarioContext,
  measurement: Measurement,
  defeat: string | undefined,
  options: object,
  keys: readonly string[],
): Measurement {
  return defeat === undefined ? blameOptions(ctx, measurement, options, keys) : withDefeat(measurement, defeat);
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

/** What of a row's options reaches a child process as JSON, and the keys that cannot. */
export interface JsonOptions<T extends object> {
  /** The options that survive JSON unchanged. */
  sent: Partial<T>;
  /** The keys left out, as the config spells them (`probe`, `socket.lookup`). */
  dropped: string[];
}

const isJsonScalar = (v: unknown) => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
const isPlain = (v: object) => [Object.prototype, null].includes(Object.getPrototypeOf(v));

/**
 * Splits `options` for a child process that gets them as JSON: a function, a
 * class instance (a Buffer, a Map), a non-finite number, or an object of
 * methods (a `clock`) does not survive `JSON.stringify` (it vanishes, or
 * arrives as `{}` and crashes the child), so it is left out and named; a
 * plain object is split key by key, and left out whole when none of it survives.
 */
export function jsonOptions<T extends object>(options: T, prefix = ''): JsonOptions<T> {
  const sent: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (isJsonScalar(value) || (Array.isArray(value) && value.every(isJsonScalar))) {
      sent[key] = value;
    } else if (typeof value === 'object' && isPlain(value) && !Object.values(value).every((v) => typeof v === 'function')) {
      const inner = jsonOptions(value, `${prefix}${key}.`);
      // Nothing of it left (`tls: { ca: Buffer }`): left out whole, not sent as an empty `{}` that means something else.
      if (inner.dropped.length > 0 && Object.keys(inner.sent).length === 0) dropped.push(`${prefix}${key}`);
      else {
        sent[key] = inner.sent;
        dropped.push(...inner.dropped);
      }
    } else {
      dropped.push(`${prefix}${key}`);
    }
  }
  return { sent: sent as Partial<T>, dropped };
}

/** The note of a row whose `section` options went to a child process as JSON and lost `dropped`; none when nothing was lost. */
export function droppedNote(section: string, dropped: readonly string[]): string[] {
  if (dropped.length === 0) return [];
  const keys = dropped.map((k) => `${section}.${k}`).join(', ');
  return [
    `not applied: ${keys} (your option${dropped.length === 1 ? '' : 's'}): the client process gets the options as JSON, which functions, clocks and class instances do not survive`,
  ];
}
