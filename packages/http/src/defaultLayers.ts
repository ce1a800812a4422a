import type { CircuitPolicyOptions, CircuitRegistry } from '@breakwater/circuit';
import type { RetryBudget } from '@breakwater/retry';
import type { ResolvedHttpOptions } from './defaults.js';
import { balanceLayer } from './layers/balance.js';
import { circuitLayer } from './layers/circuit.js';
import { deadlineLayer } from './layers/deadline.js';
import { dnsLayer } from './layers/dns.js';
import { retryLayer } from './layers/retry.js';
import type { Layer } from './layers/types.js';
import type { Resolver } from './Resolver.js';

export interface StackContext {
  options: ResolvedHttpOptions;
  resolver: Resolver;
  budgetFor: (origin: string) => RetryBudget;
  circuits: CircuitRegistry;
  /** Whether Breakwater owns the connections (false with an injected dispatcher such as MockAgent). */
  ownsConnections: boolean;
}

/** The default stack, outermost first. */
export function defaultLayers(c: StackContext): Layer[] {
  const o = c.options;
  const layers: (Layer | false)[] = [
    // Outermost: the deadline covers every attempt and every backoff sleep, and the header it sets
    // tells the next tier how long we will wait. Every error leaving the stack is classified here.
    deadlineLayer(o.deadlineMs),
    // Above the breaker so each attempt is counted by it, and BW_ERR_CIRCUIT_OPEN (never retried) stops
    // the loop at once; below the deadline so backoff never outlives it.
    retryLayer({
      attempts: o.attempts,
      baseDelayMs: o.baseDelayMs,
      maxDelayMs: o.maxDelayMs,
      maxRetryAfterMs: o.maxRetryAfterMs,
      budgetFor: c.budgetFor,
      idempotencyKey: o.idempotencyKey,
      maxReplayBodyBytes: o.maxReplayBodyBytes,
    }),
    // Per origin (the name, not an address): a whole upstream failing opens it; one bad address is the
    // balancer's business below, so a single sick replica does not cut the whole service off.
    o.circuit !== false && circuitLayer(o.circuit as CircuitPolicyOptions, c.circuits),
    // Needs the addresses behind the name, and sees each attempt's latency: just above DNS.
    c.ownsConnections && balanceLayer(c.resolver, { decayMs: o.balanceDecayMs, outlierFailures: o.outlierFailures, outlierEjectionMs: o.outlierEjectionMs }),
    // Innermost: turns a name into an address just before the Agent picks a pool for that address, so
    // re-resolution after a connection error takes effect on the very next attempt.
    c.ownsConnections && dnsLayer(c.resolver),
  ];
  return layers.filter((l): l is Layer => l !== false);
}
