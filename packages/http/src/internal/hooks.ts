import type { CircuitPolicyOptions, CircuitRegistry } from '@breakwater/circuit';
import type { RetryStrategy } from '@breakwater/retry';
import type { RetryLayerOptions } from '../layers/retry.js';
import type { Layer } from '../layers/types.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import type { Resolution } from './lookup.js';

/**
 * What a built-in layer does, as data the fused request path (FusedRun) runs itself: the same
 * settings and per-client state (breakers, peers, the DNS cache) its interceptor uses, so a request
 * takes either path with the same effect. Hidden on the layer (a non-enumerable symbol): a copy of
 * the layer (`{ ...layer }`) or a layer with another interceptor is not fused, it is composed.
 */
export type LayerHook =
  | { readonly role: 'deadline'; readonly defaultMs: number; readonly propagate: (origin: string) => boolean }
  | { readonly role: 'retry'; readonly o: RetryLayerOptions; readonly strategy: RetryStrategy }
  | { readonly role: 'circuit'; readonly registry: CircuitRegistry; readonly options: CircuitPolicyOptions; readonly fast: boolean }
  | { readonly role: 'balance'; readonly resolver: Resolver; readonly resolution: Resolution; readonly balancer: Balancer }
  | { readonly role: 'dns'; readonly resolver: Resolver; readonly resolution: Resolution };

/** An address's standing in the balancer. */
export interface Peer {
  ewmaMs: number;
  updatedAt: number;
  pending: number;
  failures: number;
  ejectedUntil: number;
}

/** One attempt to one address, as the balancer settles it (its BalancedCall, or a FusedRun). */
export interface BalancedAttempt {
  readonly peer: Peer;
  readonly startedAt: number;
  readonly hostname: string;
  readonly address: string;
  readonly port: string;
}

/** The balance layer's per-client state and its two steps: pick an address, settle the attempt. */
export interface Balancer {
  choose(port: string, addresses: readonly ResolvedAddress[]): string;
  peerOf(key: string): Peer;
  settle(attempt: BalancedAttempt, failed: boolean): void;
}

const kHook = Symbol('breakwater.http.layerHook');

/** `layer`, carrying `hook` for the fused path. */
export function withHook<L extends Layer>(layer: L, hook: LayerHook): L {
  Object.defineProperty(layer, kHook, { value: { hook, interceptor: layer.interceptor } });
  return layer;
}

/** The hook of a built-in layer whose interceptor is still its own; undefined for any other layer. */
export function hookOf(layer: Layer): LayerHook | undefined {
  const h = (layer as unknown as Record<symbol, { hook: LayerHook; interceptor: unknown } | undefined>)[kHook];
  return h !== undefined && h.interceptor === layer.interceptor ? h.hook : undefined;
}
