import type { CircuitBreaker, CircuitPolicyOptions, CircuitRegistry, CircuitTicket } from '@breakwater/circuit';
import type { Deadline } from '@breakwater/core';
import type { RetryStrategy } from '@breakwater/retry';
import type { Dispatcher } from 'undici';
import { ServerFailure } from '../layers/circuit.js';
import { type DeadlinePlan, deadlineError, errorFor, failFast, planDeadline } from '../layers/deadline.js';
import { prepareRetry, type RetryLayerOptions } from '../layers/retry.js';
import type { Controller, Dispatch, DispatchOptions, Handler } from '../layers/types.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import { NO_CONTROLLER } from './forward.js';
import type { BalancedAttempt, Balancer, Peer } from './hooks.js';
import { type InFlight, settle, track } from './inFlight.js';
import type { Resolution } from './lookup.js';
import { RetryRun } from './RetryRun.js';
import { isConnectionError, isUsageError, nameOf } from './rewrite.js';
import { kAddress, kFresh, kResolution } from './symbols.js';

type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];

// The origin of the last request: the next one to it uses this string, whose hash the Map lookups keyed by
// origin (propagate, budget, breaker, parsed name) have cached; undici's request(url) builds a new one each time.
let lastOrigin = '';
function interned(origin: string): string {
  if (origin !== lastOrigin) lastOrigin = origin;
  return lastOrigin;
}

// The last peer key built: requests to one address reuse the string (and the hash the Map lookup caches on it).
let lastKey = { address: '', port: '', key: ':' };
function peerKey(address: string, port: string): string {
  if (lastKey.address !== address || lastKey.port !== port) lastKey = { address, port, key: `${address}:${port}` };
  return lastKey.key;
}

/** The default layers compiled once per client (fuse.ts): what every FusedRun of the client shares. */
export interface FusedPlan {
  readonly deadline: { readonly defaultMs: number; readonly propagate: (origin: string) => boolean };
  readonly retry: { readonly o: RetryLayerOptions; readonly strategy: RetryStrategy };
  readonly circuit: { readonly registry: CircuitRegistry; readonly options: CircuitPolicyOptions; readonly fast: boolean } | undefined;
  /** With the dns or balance layer: the cache and how the connect step resolves (the balancer's when there is one). */
  readonly names: { readonly resolver: Resolver; readonly resolution: Resolution; readonly balancer: Balancer | undefined } | undefined;
  /** The circuit, balance and dns layers composed: an attempt the fused path does not take goes there. */
  readonly layered: Dispatch;
  readonly base: Dispatcher;
  /** Where a stale-socket resend goes (`reset: true`); undefined with an injected dispatcher. */
  readonly fresh: Dispatcher | undefined;
  readonly inFlight: InFlight;
}

/**
 * One request through the default stack, as one object: the retry run (RetryRun: attempts, backoff,
 * the controller the caller sees) is also the deadline layer (the budget, its header, the error the
 * caller gets), the client's in-flight count, and for each attempt the circuit, balance and dns layers
 * (a breaker ticket, a chosen address, the peer it is charged to). Each hook does what that layer's
 * interceptor does, in the same order; no handler or options copy per layer. An attempt whose name is
 * not cached, or whose breaker is not closed, goes through the composed layers instead (`layered`).
 */
export class FusedRun extends RetryRun implements DeadlinePlan, BalancedAttempt {
  readonly plan: FusedPlan;
  readonly origin: string;
  // DeadlinePlan, set by planDeadline(); `headers` is RetryRun's.
  source = '';
  send = false;
  headersTimeout: number | undefined = undefined;
  bodyTimeout: number | undefined = undefined;
  deadline: Deadline | undefined = undefined;
  readonly #signal: AbortSignal | undefined;
  #responded = false;
  #listening = false;
  #tracked = false;
  // The attempt in flight, when this run sent it itself (not through `layered`).
  #fused = false;
  #breaker: CircuitBreaker | undefined = undefined;
  #ticket: CircuitTicket | undefined = undefined;
  #balancing = false;
  #named = false;
  // BalancedAttempt
  peer: Peer = undefined as unknown as Peer;
  startedAt = 0;
  hostname = '';
  address = '';
  port = '';

  constructor(plan: FusedPlan, opts: DispatchOptions & { signal?: unknown }, handler: Handler) {
    super(plan.layered, opts, handler, plan.retry.o, plan.retry.strategy);
    this.plan = plan;
    this.origin = interned(String(opts.origin ?? ''));
    this.#signal = opts.signal instanceof AbortSignal ? opts.signal : undefined;
  }

  /** The deadline layer's and the retry layer's first steps, then the first attempt. */
  begin(): true {
    const refused = planDeadline(this.opts, this.plan.deadline.defaultMs, this.plan.deadline.propagate, this, this.origin, this);
    if (refused !== undefined) return failFast(this.next, refused);
    track(this.plan.inFlight, this);
    this.#tracked = true;
    try {
      const noBudget = prepareRetry(this, this.headers, this.origin);
      if (noBudget !== undefined) this.#end(NO_CONTROLLER, noBudget);
      else this.start();
    } catch (err) {
      this.#settle();
      throw err;
    }
    return true;
  }

  protected override deadlineOf(): Deadline | undefined {
    return this.deadline;
  }

  protected override propagates(): boolean {
    return this.send;
  }

  protected override attemptOptions(headers: unknown): DispatchOptions {
    const opts: DispatchOptions = { ...this.opts, headers: headers as DispatchOptions['headers'] };
    if (this.headersTimeout !== undefined) opts.headersTimeout = this.headersTimeout;
    if (this.bodyTimeout !== undefined) opts.bodyTimeout = this.bodyTimeout;
    return opts;
  }

  // ---- Each attempt: circuit, balance, dns ----

  protected override sendAttempt(opts: DispatchOptions): void {
    const p = this.plan;
    this.#fused = false;
    const names = p.names;
    let name: ReturnType<typeof nameOf>;
    let addresses: readonly ResolvedAddress[] | undefined;
    if (names !== undefined) {
      name = nameOf(this.origin);
      if (name !== undefined) {
        addresses = names.resolver.peek(name.hostname);
        // Never resolved, or the answer expired: the composed layers wait for the resolver.
        if (addresses === undefined) return void this.dispatch(opts, this);
      }
    }
    if (p.circuit !== undefined) {
      const breaker = p.circuit.registry.circuitFor(this.origin, p.circuit.options);
      const ticket = p.circuit.fast ? breaker.admit() : undefined;
      // Open or half-open (or a per-attempt limit): the circuit layer sends it through run().
      if (ticket === undefined) return void this.dispatch(opts, this);
      this.#breaker = breaker;
      this.#ticket = ticket;
    }
    this.#named = false;
    this.#balancing = false;
    if (names !== undefined && name !== undefined && addresses !== undefined) {
      const b = names.balancer;
      if (b !== undefined) {
        const port = name.url.port || (name.url.protocol === 'https:' ? '443' : '80');
        this.address = b.choose(port, addresses);
        this.port = port;
        this.peer = b.peerOf(peerKey(this.address, port));
        this.startedAt = performance.now();
        this.peer.pending++;
        this.#balancing = true;
      } else this.address = names.resolution.choose(name.hostname, '', addresses).address;
      this.hostname = name.hostname;
      this.#named = true;
      opts[kResolution] = names.resolution;
      opts[kAddress] = this.address;
    }
    this.#fused = true;
    try {
      if (p.fresh !== undefined && opts[kFresh] === true) p.fresh.dispatch({ ...opts, reset: true }, this);
      else p.base.dispatch(opts, this);
    } catch (err) {
      // As composed: a throwing dispatch is the circuit's failure; the balancer never hears of it.
      this.#balancing = false;
      throw err;
    }
  }

  #record(outcome: unknown, threw: boolean): void {
    const ticket = this.#ticket;
    if (ticket === undefined) return;
    this.#ticket = undefined;
    this.#breaker?.record(ticket, outcome, threw);
  }

  #balanced(failed: boolean): void {
    if (!this.#balancing) return;
    this.#balancing = false;
    this.plan.names?.balancer?.settle(this, failed);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: never): void {
    if (this.#fused) this.#record(statusCode, false);
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: Headers, message?: string): void {
    if (this.#fused) {
      this.#balanced(statusCode >= 500);
      // As run() sees it: a 5xx is thrown to the breaker (it counts), anything else is a result.
      if (statusCode >= 500) this.#record(new ServerFailure(statusCode), true);
      else this.#record(statusCode, false);
    }
    super.onResponseStart(controller, statusCode, headers, message);
  }

  override onResponseError(controller: Controller, err: Error): void {
    if (this.#fused) {
      const connection = isConnectionError(err);
      // After a connection error the name is resolved again on the next attempt.
      if (connection && this.#named) this.plan.names?.resolver.invalidate(this.hostname);
      // No controller: undici failed the request before it started (refused, TLS, invalid option).
      this.#balanced(connection || (controller?.aborted !== true && !isUsageError(err)));
      this.#record(err, true);
    }
    super.onResponseError(controller, err);
  }

  // ---- The request: deadline and the in-flight count, between the run and the caller ----

  protected override upStart(context: unknown): void {
    const d = this.deadline;
    if (d !== undefined && !this.#listening) {
      // The deadline aborts the run (onDeadlineAbort; called at once if it has passed already).
      this.#listening = true;
      d.onAbort(this);
    }
    super.upStart(context);
  }

  /** The deadline fired (this run is its own abort listener: no closure per request). */
  onDeadlineAbort(reason: unknown): void {
    this.abort(reason as Error);
  }

  /** The request, named in BW_ERR_DEADLINE; built only if the deadline fires. */
  deadlineLabel(): string {
    return `${this.opts.method} ${this.origin}${this.opts.path}`;
  }

  protected override upResponseStart(statusCode: number, headers: Headers, message?: string): void {
    this.#responded = true;
    super.upResponseStart(statusCode, headers, message);
  }

  protected override upEnd(trailers: Headers): void {
    this.#done();
    super.upEnd(trailers);
  }

  protected override upUpgrade(statusCode: number, headers: Headers, socket: never): void {
    this.#done();
    super.upUpgrade(statusCode, headers, socket);
  }

  protected override upError(err: Error): void {
    this.#end(this, err);
  }

  /** The error the caller gets, as the deadline layer makes it. */
  #end(controller: Controller, err: Error): void {
    const d = this.deadline;
    const out =
      d === undefined ? errorFor(err, this.origin, controller) : deadlineError(err, controller, d, this.#signal, this.origin, this.source, this.#responded);
    this.#done();
    this.next.onResponseError?.(controller, out);
  }

  #done(): void {
    const d = this.deadline;
    if (d !== undefined) {
      if (this.#listening) d.offAbort(this);
      d.dispose();
    }
    this.#settle();
  }

  #settle(): void {
    if (!this.#tracked) return;
    this.#tracked = false;
    settle(this.plan.inFlight, this);
  }
}
