import { type CircuitPolicyOptions, resolveCircuitOptions } from '@breakwater/circuit';
import { BreakwaterError, intRule, msRule, type Rules, resolveTunables, validateAtLeast, validateBoolean, validateFunction } from '@breakwater/core';
import type { PresetConfig, PresetHttp, PresetSelection } from '@breakwater/presets';
import { RETRY_RULES, type RetryBudgetOptions, type RetryPolicyOptions, resolveRetryBudgetOptions } from '@breakwater/retry';
import { SOCKET_DEFAULTS, type SocketOptions } from '@breakwater/socket';
import type { Dispatcher } from 'undici';
import type { Layer } from './layers/types.js';
import { applyPreset, checkPresetPath } from './presetOptions.js';
import { type PropagateOption, propagationPolicy } from './propagate.js';
import { type HttpProxyOption, type ResolvedProxy, resolveProxyOption } from './proxy.js';
import type { ResolveFn } from './Resolver.js';
import { type HttpTlsOptions, resolveTlsOptions } from './tls.js';

/**
 * The numeric and boolean options, with their defaults. Units are in the names. Extends the shape of a
 * preset's `http` section ({@link PresetHttp}, owned by @breakwater/presets below this package), so
 * `createClient({ ...preset.http })` type-checks and a key added there must be handled here.
 */
export interface HttpPolicyOptions
  extends Partial<PresetHttp>,
    Pick<RetryPolicyOptions, 'attempts' | 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs' | 'attemptTimeoutMs'> {
  /**
   * Connections per origin. undici's default is unlimited, which turns a slow upstream into thousands of sockets.
   * @defaultValue 32
   */
  connections?: number;
  /**
   * How long an idle pooled connection is kept. Below the idle timeout of what sits in front of the server
   * (Node's http server: 5 s, nginx: 75 s, AWS ALB: 60 s), so the client, not the peer, closes it (FM-07).
   * @defaultValue 4_000
   */
  keepAliveTimeoutMs?: number;
  /**
   * Subtracted from a server's `Keep-Alive: timeout=N` hint, which is honoured only when lower than
   * `keepAliveTimeoutMs` (undici's `keepAliveMaxTimeout` is set to ours).
   * @defaultValue 1_000
   */
  keepAliveTimeoutThresholdMs?: number;
  /** TCP (and TLS) connect timeout per attempt (FM-05). @defaultValue 3_000 */
  connectTimeoutMs?: number;
  /**
   * Time from a request written to its response headers, per attempt; 0 = none. A server may think this
   * long (the request's `deadlineMs` bounds it too): the socket stall watchdog no longer cuts it short.
   * When it passes: BW_ERR_HEADERS_TIMEOUT, not retried (a slow answer is no reason to send it again).
   * Per request: `headersTimeoutMs`. undici: 300 s.
   * @defaultValue 30_000
   */
  headersTimeoutMs?: number;
  /**
   * Longest gap between two body chunks; 0 = none. Per request: `bodyTimeoutMs` (SSE, long polls). undici: 300 s.
   * @defaultValue 30_000
   */
  bodyTimeoutMs?: number;
  /**
   * HTTP/2 through ALPN. Off: one slow h2 connection head-of-line blocks every stream multiplexed on it,
   * and a per-origin connection limit no longer bounds concurrency (see README).
   * @defaultValue false
   */
  allowH2?: boolean;
  /**
   * Total time for a request, every attempt and backoff included; lowered by the inbound request's
   * deadline, sent downstream as the time left. 0 = none. Per request: `deadlineMs` (0 for streams).
   * @defaultValue 30_000
   */
  deadlineMs?: number;
  // The retry options below are @breakwater/retry's (same meaning, same validation: RETRY_RULES).
  /** Attempts per request, the first included (idempotent requests only). @defaultValue 3 */
  attempts?: number;
  /**
   * Full-jitter backoff base. Half of `retry()`'s 100 ms: a request has someone waiting on it and a
   * 30 s `deadlineMs`, so retries come sooner. @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
   * @defaultValue 50
   */
  baseDelayMs?: number;
  /** Full-jitter backoff cap. Below `retry()`'s 10 s so every attempt fits the 30 s request deadline. @defaultValue 2_000 */
  maxDelayMs?: number;
  /** A `Retry-After` longer than this ends retrying. @defaultValue 10_000 */
  maxRetryAfterMs?: number;
  /** Add an `Idempotency-Key` header to POST/PATCH requests lacking one, so they may be retried. @defaultValue false */
  idempotencyKey?: boolean;
  /**
   * A one-shot request body (a `Readable`, an async iterable, a web `ReadableStream`, a `FormData`, and
   * every body sent through `fetch()`) is recorded up to this many bytes as it goes out, so a retry
   * sends exactly the same bytes. A larger one is not retried once its bytes started to go out (the
   * error's `details.notRetried` says so). 64 KiB covers nearly every JSON or form payload, and is what
   * a kernel socket buffer holds anyway; it bounds the memory per request in flight
   * (64 MiB for 1,000 concurrent uploads). Strings, Buffers and Blobs are sent again as they are and
   * need no copy. 0 = never record (one-shot bodies are then retried only before their first byte).
   * @defaultValue 65_536
   * @example createClient({ maxReplayBodyBytes: 1_048_576 }) // retry uploads of streamed bodies up to 1 MiB
   */
  maxReplayBodyBytes?: number;
  /** Longest a positive DNS answer is cached, whatever its TTL (FM-13). @defaultValue 30_000 */
  dnsMaxTtlMs?: number;
  /** Longest NXDOMAIN / no-data is cached (FM-13). @defaultValue 2_000 */
  dnsNegativeTtlMs?: number;
  /** How long an expired answer may still be served while the resolver fails. @defaultValue 300_000 */
  dnsStaleMs?: number;
  /** Time constant of the decay of an idle address's latency score (it falls to 1/e in this long), so a recovered replica is probed again (FM-14). @defaultValue 5_000 */
  balanceDecayMs?: number;
  /** Consecutive failures that eject an address from balancing. @defaultValue 5 */
  outlierFailures?: number;
  /** How long an ejected address is left out. @defaultValue 10_000 */
  outlierEjectionMs?: number;
  /**
   * Per-origin state (DNS answers, retry budgets, circuit breakers, balancer scores) kept for at most this
   * many origins (or addresses); state unused for `originIdleMs` goes sooner. No timer per origin: each
   * new origin sweeps a few old ones. An open circuit is never dropped early.
   * @defaultValue 1_000
   */
  maxOrigins?: number;
  /** Per-origin state unused this long is dropped when new origins come. @defaultValue 60_000 */
  originIdleMs?: number;
  /**
   * How long `close()` (and `await using`) waits for requests in flight (their bodies read, a retry's backoff
   * included) when called without `deadlineMs`; then the rest fail with BW_ERR_CLOSED and every connection is
   * destroyed, as by `destroy()`. As long as `deadlineMs`: a request started just before close() may finish.
   * 0 = no wait. A response whose body is never read no longer holds close() open forever.
   * @defaultValue 30_000
   */
  closeTimeoutMs?: number;

  // ── Adoption (#16): presets, TLS, proxies ────────────────────────────────────
  /**
   * Limit of one attempt up to its response headers, in ms: undici's headers timer is the lower of this
   * and `headersTimeoutMs`. 0 = only `headersTimeoutMs`. The number presets share with retry and circuit.
   * @defaultValue 0 @example 10_000
   */
  attemptTimeoutMs?: number;
  /**
   * Accept any server certificate. Only for a throw-away test against a host you control; prints a
   * `SecurityWarning` and publishes `breakwater:http:tlsVerificationSkipped`. Trust a private CA with `tls.ca` instead.
   * @defaultValue false
   */
  dangerouslySkipTlsVerification?: boolean;
}

export const HTTP_DEFAULTS = Object.freeze({
  connections: 32,
  keepAliveTimeoutMs: 4_000,
  keepAliveTimeoutThresholdMs: 1_000,
  // The number lives in @breakwater/socket; this package only passes it on.
  connectTimeoutMs: SOCKET_DEFAULTS.connectTimeoutMs,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  allowH2: false,
  deadlineMs: 30_000,
  attempts: 3,
  baseDelayMs: 50,
  maxDelayMs: 2_000,
  maxRetryAfterMs: 10_000,
  idempotencyKey: false,
  maxReplayBodyBytes: 65_536,
  dnsMaxTtlMs: 30_000,
  dnsNegativeTtlMs: 2_000,
  dnsStaleMs: 300_000,
  balanceDecayMs: 5_000,
  outlierFailures: 5,
  outlierEjectionMs: 10_000,
  maxOrigins: 1_000,
  originIdleMs: 60_000,
  closeTimeoutMs: 30_000,
  // ── Adoption (#16) ──
  attemptTimeoutMs: 0,
  dangerouslySkipTlsVerification: false,
}) satisfies Required<HttpPolicyOptions>;

export type ResolvedHttpPolicy = Required<HttpPolicyOptions>;

export interface HttpClientOptions extends HttpPolicyOptions {
  /** Socket hardening applied to every connection (see @breakwater/socket). */
  socket?: SocketOptions;
  /** Retry budget per origin (ratio + floor, FM-11). */
  retryBudget?: RetryBudgetOptions;
  /** Circuit breaker per origin; `false` removes the layer. */
  circuit?: CircuitPolicyOptions | false;
  /** DNS servers (`host` or `host:port`) for the built-in resolver. @defaultValue the system's */
  dnsServers?: string[];
  /** Replaces the resolver: hostname → addresses with TTLs. */
  resolve?: ResolveFn;
  /** Use this dispatcher (e.g. undici's MockAgent) instead of a hardened Agent; `balance` and `dns` are then left out. */
  dispatcher?: Dispatcher;
  /** Edits the default stack: `(defaults) => defaults.filter((l) => l.role !== 'circuit')`. */
  layers?: (defaults: Layer[]) => Layer[];
  /**
   * Which origins receive `x-breakwater-deadline-ms` and the retry marker: `'internal'` (private and loopback
   * addresses, single-label names, `.internal`/`.local`/`.svc`/`.cluster.local`… like a service mesh), `true`,
   * `false`, host names / `'.suffix'`es, or `(origin: URL) => boolean`.
   * @defaultValue 'internal'
   */
  propagate?: PropagateOption;

  // ── Adoption (#16) ──
  /**
   * A `resolvePreset()` result (or a selection to resolve): its `http` numbers, socket and circuit
   * sections become the defaults, explicit options override them, and `validatePath()` runs on the result.
   * @example createClient({ preset: resolvePreset({ infra: 'aws-alb', env: 'production' }) })
   */
  preset?: PresetConfig | PresetSelection;
  /** tls.ConnectionOptions for every HTTPS connection: `{ ca }` for a private CA, `{ cert, key }` for mTLS, `servername`, `minVersion`… */
  tls?: HttpTlsOptions;
  /**
   * An HTTP proxy: a URL (credentials in it, or `{ uri, token }`), or `'env'` for HTTP_PROXY/HTTPS_PROXY/NO_PROXY.
   * Through a proxy the `dns` and `balance` layers are left out: the proxy resolves the origin's name.
   * @example 'http://proxy.internal:3128'
   */
  proxy?: HttpProxyOption;
}

export interface ResolvedHttpOptions extends ResolvedHttpPolicy {
  socket: SocketOptions;
  retryBudget: RetryBudgetOptions;
  circuit: CircuitPolicyOptions | false;
  dnsServers: string[] | undefined;
  resolve: ResolveFn | undefined;
  dispatcher: Dispatcher | undefined;
  layers: ((defaults: Layer[]) => Layer[]) | undefined;
  propagate: PropagateOption;
  // ── Adoption (#16) ──
  tls: HttpTlsOptions | undefined;
  proxy: ResolvedProxy | undefined;
}

const ms = (min: number, max = 3_600_000) => msRule(min, max);
const RULES = {
  connections: intRule(1, 65_535),
  keepAliveTimeoutMs: ms(1, 600_000),
  keepAliveTimeoutThresholdMs: ms(0, 60_000),
  connectTimeoutMs: ms(1, 600_000),
  headersTimeoutMs: ms(0),
  bodyTimeoutMs: ms(0),
  allowH2: validateBoolean,
  deadlineMs: ms(0, 86_400_000),
  attempts: RETRY_RULES.attempts,
  baseDelayMs: RETRY_RULES.baseDelayMs,
  maxDelayMs: RETRY_RULES.maxDelayMs,
  maxRetryAfterMs: RETRY_RULES.maxRetryAfterMs,
  idempotencyKey: validateBoolean,
  maxReplayBodyBytes: intRule(0, 1_073_741_824),
  dnsMaxTtlMs: ms(0, 86_400_000),
  dnsNegativeTtlMs: ms(0, 3_600_000),
  dnsStaleMs: ms(0, 86_400_000),
  balanceDecayMs: ms(1, 600_000),
  outlierFailures: intRule(1, 1_000),
  outlierEjectionMs: ms(0, 3_600_000),
  // ── Adoption (#16) ──
  attemptTimeoutMs: RETRY_RULES.attemptTimeoutMs,
  dangerouslySkipTlsVerification: validateBoolean,
  maxOrigins: intRule(1, 10_000_000),
  originIdleMs: ms(1_000, 86_400_000),
  closeTimeoutMs: ms(0, 86_400_000),
} satisfies Rules<ResolvedHttpPolicy>;

const OTHER_KEYS = [
  'socket',
  'retryBudget',
  'circuit',
  'dnsServers',
  'resolve',
  'dispatcher',
  'layers',
  'propagate',
  // ── Adoption (#16) ──
  'preset',
  'tls',
  'proxy',
] as const;

function objectOption<T>(v: unknown, key: string): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${key}\` to be an options object`, { details: { key } });
  }
  return v as T;
}

/**
 * Runs a nested section's own check (the retry budget's, the breaker's) now, so a bad value fails at
 * createClient() and not on the first request, naming the key in full: `retryBudget.ratio`.
 */
function checkNested(section: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    const key = error instanceof BreakwaterError ? error.details.key : undefined;
    if (!(error instanceof BreakwaterError) || error.code !== 'BW_ERR_INVALID_OPTION' || typeof key !== 'string') throw error;
    const qualified = `${section}.${key}`;
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', error.message.split(`\`${key}\``).join(`\`${qualified}\``), {
      cause: error,
      details: { ...error.details, key: qualified },
      hint: error.hint,
    });
  }
}

/** Validated here so a bad value fails at createClient(), not on the first request. */
function validatePropagate(v: PropagateOption): PropagateOption {
  propagationPolicy(v);
  return v;
}

/** Validates `createClient()` options: unknown keys and out-of-range values throw BW_ERR_INVALID_OPTION naming the key. */
export function resolveHttpOptions(options: HttpClientOptions = {}): ResolvedHttpOptions {
  return resolveGiven(applyPreset(options));
}

function resolveGiven({ given: options, preset }: ReturnType<typeof applyPreset>): ResolvedHttpOptions {
  const { tunables: policy, others: given } = resolveTunables<ResolvedHttpPolicy, HttpClientOptions>(
    options,
    'createClient()',
    HTTP_DEFAULTS,
    RULES,
    OTHER_KEYS,
  );
  validateAtLeast(policy, 'baseDelayMs', 'maxDelayMs');
  const circuit = given.circuit === false ? false : (objectOption<CircuitPolicyOptions>(given.circuit, 'circuit') ?? {});
  if (circuit !== false) checkNested('circuit', () => resolveCircuitOptions(circuit, 'createClient() `circuit`'));
  const retryBudget = objectOption<RetryBudgetOptions>(given.retryBudget, 'retryBudget') ?? {};
  checkNested('retryBudget', () => resolveRetryBudgetOptions(retryBudget, 'createClient() `retryBudget`'));
  const dnsServers = given.dnsServers;
  if (dnsServers !== undefined && (!Array.isArray(dnsServers) || dnsServers.some((s) => typeof s !== 'string' || s === ''))) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `dnsServers` to be an array of non-empty strings', { details: { key: 'dnsServers' } });
  }
  const dispatcher = given.dispatcher;
  if (dispatcher !== undefined && typeof (dispatcher as { dispatch?: unknown })?.dispatch !== 'function') {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `dispatcher` to be an undici Dispatcher', { details: { key: 'dispatcher' } });
  }
  const resolved: ResolvedHttpOptions = {
    ...policy,
    socket: objectOption<SocketOptions>(given.socket, 'socket') ?? {},
    retryBudget,
    circuit,
    dnsServers,
    resolve: given.resolve === undefined ? undefined : validateFunction<ResolveFn>(given.resolve, 'resolve'),
    dispatcher,
    layers: given.layers === undefined ? undefined : validateFunction<(d: Layer[]) => Layer[]>(given.layers, 'layers'),
    propagate: validatePropagate(given.propagate ?? 'internal'),
    // ── Adoption (#16) ──
    tls: resolveTlsOptions(given.tls),
    proxy: resolveProxyOption(given.proxy),
  };
  if (preset !== undefined) checkPresetPath(preset, resolved);
  return resolved;
}
