import type { CircuitPolicyOptions, CircuitRegistry } from '@breakwater/circuit';
import type { RetryBudget } from '@breakwater/retry';
import type { ResolvedHttpOptions } from './defaults.js';
import { balanceLayer } from './layers/balance.js';
import { circuitLayer } from './layers/circuit.js';
import { deadlineLayer } from './layers/deadline.js';
import { dnsLayer } from './layers/dns.js';
import { retryLayer } from './layers/retry.js';
import type { Layer } from './layers/types.js';
import { propagationPolicy } from './propagate.js';
import type { Resolver } from './Resolver.js';

export interface StackContext {
  options: ResolvedHttpOptions;
  resolver: Resolver;
  budgetFor: (origin: string) => RetryBudget;
  circuits: CircuitRegistry;
  /** Whether Breakwater owns the connections (false with an injected dispatcher such as MockAgent). */
  ownsConnections: boolean;
  /** Requests go through an HTTP proxy, which resolves the origin's name itself. @defaultValue false */
  viaProxy?: boolean;
}

/** The default stack, outermost first. */
export function defaultLayers(c: StackContext): Layer[] {
  const o = c.options;
  // Through a proxy, the proxy resolves the origin and owns the connection to it: rewriting the origin to
  // an address here would send `CONNECT 10.0.0.5:443` (no name for the proxy's ACLs, SNI from a guess)
  // and balance across addresses the proxy never uses. Both layers are left out.
  const resolvesLocally = c.ownsConnections && c.viaProxy !== true;
  const layers: (Layer | false)[] = [
    // Outermost: the deadline covers every attempt and every backoff sleep, and the header it sets
    // tells the next tier how long we will wait. Every error leaving the stack is classified here.
    deadlineLayer(o.deadlineMs, { propagate: propagationPolicy(o.propagate) }),
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
    resolvesLocally &&
      balanceLayer(c.resolver, {
        decayMs: o.balanceDecayMs,
        outlierFailures: o.outlierFailures,
        outlierEjectionMs: o.outlierEjectionMs,
        maxPeers: o.maxOrigins,
        peerIdleMs: o.originIdleMs,
      }),
    // Innermost: turns a name into an address just before the Agent picks a pool for that address, so
    // re-resolution after a connection error takes effect on the very next attempt.
    resolvesLocally && dnsLayer(c.resolver),
  ];
  return layers.filter((l): l is Layer => l !== false);
}
