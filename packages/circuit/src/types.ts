/** The circuit breaker's public shapes: its states, what a guarded call receives, events, stats and tickets. */

export type CircuitState = 'closed' | 'open' | 'halfOpen';

/** What a guarded function receives. */
export interface CallContext {
  /** This call's own signal: aborts on its time limit or the caller's signal, never because of another call. */
  signal: AbortSignal;
  key: string;
  /** This call is the single half-open probe. */
  probe: boolean;
}

export type Action<A extends unknown[], R> = (context: CallContext, ...args: A) => R | Promise<R>;

/** Event payloads; each event is also published on `breakwater:circuit:<event>`. */
export interface CircuitEvents {
  opened: [{ key: string; retryInMs: number; failedProbes: number }];
  halfOpened: [{ key: string }];
  closed: [{ key: string }];
  rejected: [{ key: string; state: CircuitState; retryInMs: number }];
  failed: [{ key: string; probe: boolean; error?: unknown; result?: unknown }];
  succeeded: [{ key: string; probe: boolean }];
  timedOut: [{ key: string; probe: boolean; timeoutMs: number }];
}

export interface CircuitStats {
  key: string;
  state: CircuitState;
  /** ms until the next probe may run (0 when closed). */
  retryInMs: number;
  /** Failed probes since the breaker last opened from closed. */
  failedProbes: number;
  /** opossum's counts over the rolling window (since the last close). */
  window: { fires: number; successes: number; failures: number };
  /** Since creation. */
  totals: { calls: number; succeeded: number; failed: number; rejected: number; timedOut: number; opened: number };
}

/**
 * Proof that a call was admitted while the breaker was closed (see
 * {@link CircuitBreaker.admit}). One object per rolling window, shared by the
 * calls admitted in it: admitting allocates nothing.
 */
export interface CircuitTicket {
  readonly key: string;
}
