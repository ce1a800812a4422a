import { IdleMap, publisher } from '@breakwater/core';
import { type BalancedAttempt, type Balancer, type Peer, withHook } from '../internal/hooks.js';
import type { Resolution } from '../internal/lookup.js';
import { isConnectionError, isUsageError, nameOf } from '../internal/rewrite.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import { ForwardingHandler, pinned, ResolvedCall, withAddresses } from './dns.js';
import type { Controller, Handler, Layer } from './types.js';

const publish = publisher('http');
const UP = 0.5;
const DOWN = 0.2;
/**
 * Two costs within this ratio (plus TIE_FLOOR_MS) are a tie, and the pair's random first pick wins: with one
 * call at a time, a strict comparison of alike replicas' noisy averages starved the one that sampled highest
 * until its score decayed (measured: 1 of 340 requests for one of three replicas answering in 5–7 ms).
 */
const TIE = 1.5;
/** Differences below a millisecond are noise, not a slow replica (a loopback answer, a connect's first sample). */
const TIE_FLOOR_MS = 1;
/**
 * The score of an address passed over keeps this share (5 % off per pass): a healthy replica with one unlucky
 * sample (a GC pause, a busy event loop) is measured again within a few requests, where time alone (`decayMs`)
 * starved it for seconds one call at a time (measured: 9 % of 300 instead of a third, in CI). A replica 10×
 * slower is passed over 20–35 times before each new sample, which puts it back up: a few % of the traffic.
 */
const PASSED_OVER = 0.95;

export interface BalanceOptions {
  decayMs: number;
  outlierFailures: number;
  outlierEjectionMs: number;
  /** Most addresses scored; idle ones go first, busy or ejected ones never. @defaultValue 1_000 */
  maxPeers?: number;
  /** An address unused this long is forgotten (its score has decayed to nothing anyway). @defaultValue 60_000 */
  peerIdleMs?: number;
  random?: () => number;
}

/**
 * Power of two choices over an upstream's addresses, each scored by an EWMA (quicker upwards) of its
 * time to response headers × (pending + 1) (after Finagle's P2C + PeakEWMA); scores within 1.5× (+ 1 ms)
 * of each other are a tie, settled at random, so alike replicas share evenly. A slow but "healthy" address
 * (gray failure, FM-14) loses nearly all traffic; a score decays with time and each time its address is
 * passed over, so an address is measured again now and then and one unlucky sample does not starve it. `outlierFailures` consecutive errors or 5xx eject an address for `outlierEjectionMs`.
 * The choice is made per request once the name's addresses are cached (the request goes to a pool pinned
 * to the address, the origin keeping its name), and per connection in the connect step before that.
 */
export function balanceLayer(resolver: Resolver, o: BalanceOptions): Layer & { peers: IdleMap<string, Peer> } {
  // Bounded and swept on insertion (no timer): a peer with calls in flight or still ejected stays.
  const peers = new IdleMap<string, Peer>({
    maxEntries: o.maxPeers ?? 1_000,
    idleMs: o.peerIdleMs ?? 60_000,
    canEvict: (p) => p.pending === 0 && p.ejectedUntil <= performance.now(),
  });
  const random = o.random ?? Math.random;
  const peerOf = (key: string) => {
    let p = peers.get(key);
    if (p === undefined) {
      p = peers.set(key, { ewmaMs: 0, updatedAt: performance.now(), pending: 0, failures: 0, ejectedUntil: 0 });
    }
    return p;
  };
  const cost = (p: Peer, now: number) => p.ewmaMs * Math.exp(-(now - p.updatedAt) / o.decayMs) * (p.pending + 1);
  // Per-observation weights, faster upwards: a replica turning slow is noticed within a few requests,
  // while one slow answer from a healthy replica (a GC pause) is forgotten within a few more. A
  // time-weighted peak EWMA would keep such a spike for `decayMs` and push traffic to the slow one.
  const observe = (p: Peer, rttMs: number, now: number) => {
    p.ewmaMs = p.ewmaMs === 0 ? rttMs : p.ewmaMs + (rttMs > p.ewmaMs ? UP : DOWN) * (rttMs - p.ewmaMs);
    p.updatedAt = now;
  };
  const passOver = (p: Peer, now: number) => {
    p.ewmaMs *= Math.exp(-(now - p.updatedAt) / o.decayMs) * PASSED_OVER;
    p.updatedAt = now;
  };
  const choose = (port: string, addresses: readonly { address: string }[]): string => {
    // One address: nothing to choose, ejected or not (never eject everything).
    if (addresses.length === 1) return addresses[0]!.address;
    const now = performance.now();
    let live: readonly { address: string }[] = addresses.filter((a) => peerOf(`${a.address}:${port}`).ejectedUntil <= now);
    if (live.length === 0) live = addresses; // never eject everything
    if (live.length === 1) return live[0]!.address;
    const i = Math.floor(random() * live.length);
    let j = Math.floor(random() * (live.length - 1));
    if (j >= i) j++;
    const a = live[i]!.address;
    const b = live[j]!.address;
    const [pa, pb] = [peerOf(`${a}:${port}`), peerOf(`${b}:${port}`)];
    // `a` is a uniform pick: it wins unless `b` is clearly cheaper (a gray failure is many times slower).
    const bWins = cost(pb, now) * TIE + TIE_FLOOR_MS < cost(pa, now);
    passOver(bWins ? pa : pb, now);
    return bWins ? b : a;
  };
  // Shared by every call (no closure per request): the attempt's outcome and latency, once.
  const settle = (a: BalancedAttempt, failed: boolean) => {
    const peer = a.peer;
    peer.pending--;
    const now = performance.now();
    if (!failed) {
      peer.failures = 0;
      observe(peer, now - a.startedAt, now);
    } else if (++peer.failures >= o.outlierFailures && peer.ejectedUntil <= now) {
      peer.ejectedUntil = now + o.outlierEjectionMs;
      publish('ejected', { hostname: a.hostname, address: a.address, port: a.port, failures: peer.failures, forMs: o.outlierEjectionMs });
    }
  };
  // A connection opened before the name was cached (its first requests) picks its address the same way.
  const resolution: Resolution = {
    resolver,
    choose: (_hostname, port, addresses) => {
      const address = choose(port, addresses);
      return addresses.find((a) => a.address === address)!;
    },
  };
  const balancer: Balancer = { choose, peerOf, settle };
  const layer = {
    role: 'balance',
    description: 'P2C + peak EWMA across the addresses of a name, with passive outlier ejection',
    peers,
    interceptor: (dispatch) => (opts, handler) => {
      const name = nameOf(opts.origin);
      if (name === undefined) return dispatch(opts, handler);
      const port = name.url.port || (name.url.protocol === 'https:' ? '443' : '80');
      const send = (addresses: readonly ResolvedAddress[]) => {
        const address = choose(port, addresses);
        const peer = peerOf(`${address}:${port}`);
        const call = new BalancedCall(handler, settle, resolver, peer, name.hostname, address, port);
        peer.pending++;
        dispatch(pinned(opts, resolution, address), call);
      };
      if (!withAddresses(resolver, name.hostname, opts, handler, send))
        return dispatch(pinned(opts, resolution, undefined), new ResolvedCall(handler, resolver, name.hostname));
      return true;
    },
  } satisfies Layer & { peers: IdleMap<string, Peer> };
  return withHook(layer, { role: 'balance', resolver, resolution, balancer });
}

/** One attempt to one address: reports its outcome to the balancer at the response's start or its error. */
class BalancedCall extends ForwardingHandler {
  readonly startedAt = performance.now();
  #done = false;

  constructor(
    next: Handler,
    readonly settle: (call: BalancedAttempt, failed: boolean) => void,
    readonly resolver: Resolver,
    readonly peer: Peer,
    readonly hostname: string,
    readonly address: string,
    readonly port: string,
  ) {
    super(next);
  }

  #finish(failed: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.settle(this, failed);
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onResponseStart']>>[2],
    message?: string,
  ): void {
    this.#finish(statusCode >= 500);
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  override onResponseError(controller: Controller, err: Error): void {
    // No controller: undici failed the request before it started (refused, TLS, invalid option).
    this.#finish(isConnectionError(err) || (controller?.aborted !== true && !isUsageError(err)));
    if (isConnectionError(err)) this.resolver.invalidate(this.hostname);
    this.next.onResponseError?.(controller, err);
  }
}
