import type { ResolvedCircuitPolicyOptions } from '@breakwater/circuit';
import type { PoolTunables } from '@breakwater/pool';
import type { RetryPolicyOptions } from '@breakwater/retry';
import type { ResolvedSocketOptions } from '@breakwater/socket';
import type { InfraName, LoadBalancerSpec } from './infra.js';

export const ENV_NAMES = ['development', 'production', 'serverless'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/** `socket` section: `@breakwater/socket` options (numbers and switches; the clock stays injectable at the call site). */
export type PresetSocket = Omit<ResolvedSocketOptions, 'clock'>;
/** `pool` section: `@breakwater/pool` tunables. */
export type PresetPool = Required<Omit<PoolTunables, 'clock'>>;
/** `retry` section: `@breakwater/retry` policy. */
export type PresetRetry = Required<Omit<RetryPolicyOptions, 'clock'>>;
/** `circuit` section: `@breakwater/circuit` policy. */
export type PresetCircuit = Omit<ResolvedCircuitPolicyOptions, 'clock'>;

/**
 * `http` section: what an HTTP client on this path uses. This is THE shape of
 * those options: `@breakwater/http`'s `createClient()` options extend it, so a
 * preset's section is always a valid client config
 * (`createClient({ ...preset.http })`, or `createClient({ preset })`).
 */
export interface PresetHttp {
  /** Close a pooled HTTP connection idle this long, in ms: below the load balancer's idle timeout with a margin (FM-07). */
  keepAliveTimeoutMs: number;
  /** Connections per origin. */
  connections: number;
  /** Whole request, every attempt and backoff sleep included, in ms. Holds `attempts × attemptTimeoutMs` + the worst backoff. */
  deadlineMs: number;
  /**
   * One attempt, in ms: how long a healthy server may think before its headers (`@breakwater/http`'s
   * `headersTimeoutMs`, 30 s), below the load balancer's response timeout by max(1 s, 10 %). 0 = off:
   * each attempt is bounded by the client's `headersTimeoutMs`, and the deadline is the client's default (30 s).
   */
  attemptTimeoutMs: number;
  /** Attempts, the first included (the same number as `retry.attempts`). */
  attempts: number;
  /** Full-jitter backoff base, in ms (the same number as `retry.baseDelayMs`). */
  baseDelayMs: number;
  /** Backoff cap, in ms (the same number as `retry.maxDelayMs`). */
  maxDelayMs: number;
}

/** `server` section: what {@link hardenServer} sets on a Node `http.Server`. */
export interface PresetServer {
  /** `server.keepAliveTimeout`, in ms: above the load balancer's upstream idle (and the client's idle), so the server never closes first (FM-16). */
  keepAliveTimeoutMs: number;
  /** `server.headersTimeout`, in ms: above `keepAliveTimeoutMs`, so a reused idle connection is never cut by the headers timer. */
  headersTimeoutMs: number;
  /** `server.requestTimeout`, in ms: the whole request must arrive within it; at least `headersTimeoutMs`. 0 disables. */
  requestTimeoutMs: number;
}

/** `loadBalancer` section: the infrastructure preset's numbers, overridable. */
export interface PresetLoadBalancer extends LoadBalancerSpec {
  name: InfraName;
}

/** One validated, frozen configuration with a section per package. */
export interface PresetConfig {
  readonly infra: InfraName;
  readonly env: EnvName;
  readonly loadBalancer: Readonly<PresetLoadBalancer>;
  readonly socket: Readonly<PresetSocket>;
  readonly pool: Readonly<PresetPool>;
  readonly http: Readonly<PresetHttp>;
  readonly retry: Readonly<PresetRetry>;
  readonly circuit: Readonly<PresetCircuit>;
  readonly server: Readonly<PresetServer>;
}

/** Per-section overrides, applied after the presets and validated like them. */
export interface PresetOverrides {
  /** Your load balancer's real numbers (a changed ALB idle timeout, HAProxy's `timeout server`…); the other sections are derived from them. */
  loadBalancer?: Partial<Omit<LoadBalancerSpec, 'sources'>>;
  socket?: Partial<PresetSocket>;
  pool?: Partial<PresetPool>;
  http?: Partial<PresetHttp>;
  retry?: Partial<PresetRetry>;
  circuit?: Partial<PresetCircuit>;
  server?: Partial<PresetServer>;
}

export interface PresetSelection {
  /** What sits between client and server. Required: there is no safe guess. @example 'aws-alb' */
  infra: InfraName;
  /** @defaultValue 'production' @example 'serverless' */
  env?: EnvName;
  overrides?: PresetOverrides;
}

/**
 * The margins presets keep between the numbers of one path. Each is a
 * Breakwater number (the rest come from the packages' defaults and the
 * infrastructure table).
 */
export const PRESET_DEFAULTS = Object.freeze({
  /** The environment when none is given. */
  env: 'production' as EnvName,
  /** The client closes an idle connection at least this long before the load balancer would, in ms (timer slack, RTT, the FIN in flight). */
  clientIdleMarginMinMs: 1_000,
  /** … or this fraction of the load balancer's idle timeout, whichever is larger. */
  clientIdleMarginRatio: 0.1,
  /** The server keeps an idle connection this much longer than the load balancer (AWS's and Google's advice: above the LB idle), in ms. */
  serverIdleMarginMs: 5_000,
  /** `headersTimeout` above `keepAliveTimeout` by this much, in ms (the usual ALB fix: 65 s / 66 s). */
  headersTimeoutMarginMs: 1_000,
  /**
   * One attempt's limit, in ms, where the load balancer allows it: how long a healthy server may think
   * before its headers, `@breakwater/http`'s `headersTimeoutMs` default. A protection must not cut
   * healthy traffic (a server thinking 25 s gets its answer, row DC-01).
   */
  attemptTimeoutMs: 30_000,
  /** The deadline with `http.attemptTimeoutMs` 0 (off), in ms: `@breakwater/http`'s `deadlineMs` default. */
  offDeadlineMs: 30_000,
});

/**
 * Node's own `http.Server` defaults (Node 22 and 24), which presets start
 * from: the 5 s keep-alive is the server side of the ALB 502.
 */
export const NODE_SERVER_DEFAULTS = Object.freeze({
  keepAliveTimeoutMs: 5_000,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
}) satisfies PresetServer;

/**
 * The attempt timeout a preset derives: {@link PRESET_DEFAULTS}.attemptTimeoutMs, or below the load
 * balancer's response timeout by max(1 s, 10 %) when that is shorter (the client gives up before the
 * load balancer answers 504 for the server: Envoy's 15 s route timeout gives 13.5 s, GCP's 30 s 27 s).
 */
export function presetAttemptTimeoutMs(responseTimeoutMs: number): number {
  return Math.min(PRESET_DEFAULTS.attemptTimeoutMs, clientIdleCeilingMs(responseTimeoutMs));
}

/**
 * The smallest deadline that holds every attempt at its full timeout plus the worst backoff; with the
 * attempt timeout 0 (off) the client's own default deadline (each attempt is then bounded by its headers timeout).
 */
export function presetDeadlineMs(attempts: number, attemptTimeoutMs: number, retry: Pick<PresetRetry, 'jitter' | 'baseDelayMs' | 'maxDelayMs'>): number {
  const backoff = worstBackoffMs(retry, attempts);
  return attemptTimeoutMs === 0 ? Math.max(PRESET_DEFAULTS.offDeadlineMs, backoff) : attempts * attemptTimeoutMs + backoff;
}

/** The client's idle ceiling for a load balancer idle timeout: `idle − max(1 s, 10 %)`. */
export function clientIdleCeilingMs(loadBalancerIdleMs: number): number {
  if (!Number.isFinite(loadBalancerIdleMs)) return loadBalancerIdleMs;
  const margin = Math.max(PRESET_DEFAULTS.clientIdleMarginMinMs, loadBalancerIdleMs * PRESET_DEFAULTS.clientIdleMarginRatio);
  return Math.floor(loadBalancerIdleMs - margin);
}

/**
 * The longest total of backoff sleeps `attempts` may take under `retry`'s
 * jitter: full and equal jitter stay below `min(max, base × 2ⁿ)`, decorrelated
 * below `min(max, base × 3ⁿ⁺¹)`.
 */
export function worstBackoffMs(retry: Pick<PresetRetry, 'jitter' | 'baseDelayMs' | 'maxDelayMs'>, attempts: number): number {
  let total = 0;
  for (let n = 0; n < attempts - 1; n++) {
    const growth = retry.jitter === 'decorrelated' ? 3 ** Math.min(n + 1, 62) : 2 ** Math.min(n, 62);
    total += Math.min(retry.maxDelayMs, retry.baseDelayMs * growth);
  }
  return Math.ceil(total);
}
