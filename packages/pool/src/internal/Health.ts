import { BreakwaterError, type Clock, classify } from '@breakwater/core';

export interface HealthOptions {
  clock: Clock;
  /** Consecutive failures that mark the endpoint unhealthy; 0 disables. */
  unhealthyAfterFailures: number;
  unhealthyForMs: number;
  where: string;
  onUnhealthy: (consecutiveFailures: number, lastError: unknown) => void;
  onRecovered: () => void;
}

/**
 * Passive health from real traffic (FM-08): a probe can pass while real
 * requests fail (a small PING fits through a PMTU black hole, a proxy
 * answers health checks for a dead backend), so only outcomes of real
 * borrows count.
 *
 * The rule: `unhealthyAfterFailures` consecutive connection-level failures
 * mark the endpoint unhealthy. Every connection opened before that is
 * evicted, and for `unhealthyForMs` every `acquire()` fails fast with
 * `BW_ERR_CIRCUIT_OPEN`. Then one caller is let through as a trial, on a
 * fresh connection: a clean release marks the endpoint healthy again, a
 * failure (or a failed connect) starts another `unhealthyForMs`. A trial that
 * reports nothing within `unhealthyForMs` lets the next caller try.
 */
export class Health {
  readonly #o: HealthOptions;
  #consecutive = 0;
  #unhealthySince: number | undefined;
  #trialSince: number | undefined;
  #lastError: unknown;
  /** Bumped when the endpoint turns unhealthy; connections of older generations are evicted. */
  generation = 0;

  constructor(options: HealthOptions) {
    this.#o = options;
  }

  get healthy(): boolean {
    return this.#unhealthySince === undefined;
  }

  get consecutiveFailures(): number {
    return this.#consecutive;
  }

  /**
   * Called at the start of `acquire()`: undefined to go ahead, `'trial'` when
   * this caller is the trial, or the error to fail fast with.
   */
  admit(): 'trial' | BreakwaterError | undefined {
    if (this.#unhealthySince === undefined) return undefined;
    const now = this.#o.clock.now();
    const openUntil = this.#unhealthySince + this.#o.unhealthyForMs;
    const trialBusy = this.#trialSince !== undefined && now - this.#trialSince < this.#o.unhealthyForMs;
    if (now >= openUntil && !trialBusy) {
      this.#trialSince = now;
      return 'trial';
    }
    const retryInMs = Math.max(0, Math.round(openUntil - now));
    return new BreakwaterError(
      'BW_ERR_CIRCUIT_OPEN',
      `${this.#o.where} is marked unhealthy after ${this.#consecutive} consecutive connection-level failures; ` +
        (trialBusy ? 'a trial request is in flight' : `the next trial in ${retryInMs} ms`),
      {
        cause: this.#lastError,
        hint: 'Real requests kept failing at the connection level although connections opened (and probes may pass: FM-08). The pool fails fast instead of feeding more requests to a bad endpoint.',
        details: { reason: 'unhealthy', consecutiveFailures: this.#consecutive, retryInMs },
      },
    );
  }

  success(generation: number): void {
    if (generation !== this.generation) return;
    this.#consecutive = 0;
    if (this.#unhealthySince !== undefined) {
      this.#unhealthySince = undefined;
      this.#trialSince = undefined;
      this.#o.onRecovered();
    }
  }

  failure(generation: number, error: unknown): void {
    if (this.#o.unhealthyAfterFailures === 0 || generation !== this.generation) return;
    this.#consecutive++;
    this.#lastError = error;
    if (this.#unhealthySince !== undefined) {
      // A failed trial: stay unhealthy for another period.
      this.#unhealthySince = this.#o.clock.now();
      this.#trialSince = undefined;
      return;
    }
    if (this.#consecutive >= this.#o.unhealthyAfterFailures) {
      this.#unhealthySince = this.#o.clock.now();
      this.generation++;
      this.#o.onUnhealthy(this.#consecutive, error);
    }
  }

  /** The trial caller got no connection (connect failed, timed out or was aborted). */
  trialFailed(error: unknown, counts: boolean): void {
    if (counts) this.failure(this.generation, error);
    else this.#trialSince = undefined;
  }
}

const CONNECTION_LEVEL = new Set([
  'BW_ERR_PEER_RESET',
  'BW_ERR_PEER_CLOSED',
  'BW_ERR_PEER_TIMEOUT',
  'BW_ERR_STALLED',
  'BW_ERR_PROTOCOL',
  'BW_ERR_NETWORK',
  'BW_ERR_CONNECT_TIMEOUT',
  'BW_ERR_CONNECT_REFUSED',
  'BW_ERR_PEER_UNREACHABLE',
  'BW_ERR_ACK_TIMEOUT',
]);

/**
 * Whether an error says the connection (not the request) is broken: a
 * BreakwaterError with a connection code, or an OS error (`code` such as
 * ECONNRESET) that `classify()` maps to one. An error without a code is the
 * application's (a "not found" reply): the connection stays.
 */
export function isConnectionLevel(error: unknown): boolean {
  if (error instanceof BreakwaterError) return CONNECTION_LEVEL.has(error.code);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_LEVEL.has(classify(error).code);
}
