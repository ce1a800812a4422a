import type { CircuitPolicyOptions } from '@breakwater/circuit';
import { BreakwaterError } from '@breakwater/core';
import { type PresetConfig, type PresetHttp, type PresetSelection, resolvePreset, validatePath } from '@breakwater/presets';
import type { HttpClientOptions, ResolvedHttpOptions } from './defaults.js';

function isConfig(value: object): value is PresetConfig {
  const v = value as Partial<Record<keyof PresetConfig, unknown>>;
  return typeof v.http === 'object' && v.http !== null && typeof v.loadBalancer === 'object' && v.loadBalancer !== null;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `createClient({ preset, ...explicit })` → the options the preset stands for, explicit ones on top:
 * its `http` section (the {@link PresetHttp} shape this package's options extend), its socket connect
 * timeout, its `socket` (but `expectResponseAfterWrite`) and `circuit` sections merged key by key under `socket` / `circuit`. The
 * circuit's `attemptTimeoutMs` is left out: the attempt limit is `attemptTimeoutMs` (enforced through
 * undici's headers timer), so the breaker keeps its fast path. Without `preset` the options pass unchanged.
 */
export function applyPreset(options: HttpClientOptions | undefined): { given: HttpClientOptions | undefined; preset: PresetConfig | undefined } {
  if (!isPlainObject(options) || !Object.hasOwn(options, 'preset')) return { given: options, preset: undefined };
  const { preset: p, ...explicit } = options as HttpClientOptions;
  if (p === undefined) return { given: explicit, preset: undefined };
  if (!isPlainObject(p)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `preset` to be a resolvePreset() result or a selection like { infra: "aws-alb" }', {
      details: { key: 'preset' },
    });
  }
  const preset = isConfig(p) ? p : resolvePreset(p as unknown as PresetSelection);
  const { attemptTimeoutMs: _attempt, ...circuit } = preset.circuit;
  // A preset's socket section is every socket default, `expectResponseAfterWrite: true` (a raw socket's) included:
  // over HTTP that would owe a reply within `stallTimeoutMs` and cut a server thinking longer. HTTP's own rule
  // (no reply owed) stays unless the user's `socket` sets it.
  const { expectResponseAfterWrite: _owed, ...presetSocket } = preset.socket;
  const given: HttpClientOptions = {
    ...preset.http,
    connectTimeoutMs: preset.socket.connectTimeoutMs,
    ...explicit,
    // A non-object is left for resolveHttpOptions() to reject with its own message.
    socket: isPlainObject(explicit.socket) ? { ...presetSocket, ...explicit.socket } : (explicit.socket ?? { ...presetSocket }),
    circuit:
      explicit.circuit === undefined
        ? circuit
        : isPlainObject(explicit.circuit)
          ? { ...circuit, ...(explicit.circuit as CircuitPolicyOptions) }
          : explicit.circuit,
  };
  return { given, preset };
}

/**
 * Runs the preset's {@link validatePath} on what the client will really use: the preset with the
 * explicit options in place of its numbers (an attempt count or backoff set on the client becomes the
 * path's, as `resolvePreset()` would do). A client idle above the load balancer's, a deadline that
 * cannot hold its attempts… fail here, at start-up.
 */
export function checkPresetPath(preset: PresetConfig, r: ResolvedHttpOptions): void {
  const http = Object.fromEntries(Object.keys(preset.http).map((k) => [k, r[k as keyof PresetHttp]])) as unknown as PresetHttp;
  const shared = { attempts: r.attempts, attemptTimeoutMs: r.attemptTimeoutMs, baseDelayMs: r.baseDelayMs, maxDelayMs: r.maxDelayMs };
  try {
    validatePath({
      ...preset,
      socket: { ...preset.socket, connectTimeoutMs: r.connectTimeoutMs },
      http,
      retry: { ...preset.retry, ...shared },
      circuit: { ...preset.circuit, attemptTimeoutMs: r.attemptTimeoutMs },
    });
  } catch (error) {
    if (!(error instanceof BreakwaterError)) throw error;
    throw new BreakwaterError(error.code, `createClient({ preset }): the options given break the preset's path: ${error.message}`, {
      cause: error,
      details: error.details,
    });
  }
}

/**
 * undici's `headersTimeout` for one attempt: `attemptTimeoutMs` (the preset's per-attempt limit, 0 = none)
 * caps `headersTimeoutMs` (0 = none in undici too).
 */
export function attemptHeadersTimeoutMs(o: Pick<ResolvedHttpOptions, 'attemptTimeoutMs' | 'headersTimeoutMs'>): number {
  if (o.attemptTimeoutMs === 0) return o.headersTimeoutMs;
  return o.headersTimeoutMs === 0 ? o.attemptTimeoutMs : Math.min(o.headersTimeoutMs, o.attemptTimeoutMs);
}
