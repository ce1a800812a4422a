import type { Dispatcher } from 'undici';
import { ForwardingHandler, NO_CONTROLLER } from '../internal/forward.js';
import { withHook } from '../internal/hooks.js';
import type { Resolution } from '../internal/lookup.js';
import { isConnectionError, nameOf } from '../internal/rewrite.js';
import { kAddress, kResolution } from '../internal/symbols.js';
import { invalidOptions } from '../internal/validate.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import type { Controller, DispatchOptions, Handler, Layer } from './types.js';

export { ForwardingHandler };

/**
 * Names are resolved in the connect step through Breakwater's cache (TTL honoured and capped, negative
 * answers capped, serve-stale on resolver failure, FM-13); the origin keeps its name, so `Host`, TLS SNI,
 * proxies and msw see it. Once a name's addresses are cached, each request goes to a pool pinned to one
 * of them, in turn; when the cached answer expires, the next request waits for the new one. After a
 * connection error the name is resolved again. Skipped when the origin is an IP.
 */
export function dnsLayer(resolver: Resolver): Layer {
  let turn = 0;
  const resolution: Resolution = { resolver, choose: (_hostname, _port, addresses) => addresses[turn++ % addresses.length]! };
  const layer: Layer = {
    role: 'dns',
    description: 'resolves names in the connect step: TTL-honouring DNS cache with capped negative caching and serve-stale',
    interceptor: (dispatch) => (opts, handler) => {
      const name = nameOf(opts.origin);
      if (name === undefined) return dispatch(opts, handler);
      const o = opts as DispatchOptions;
      const call = new ResolvedCall(handler, resolver, name.hostname);
      // The balancer above chose the address (and how new connections choose): nothing left to do here.
      if (o[kAddress] !== undefined) return dispatch(opts, call);
      const r = (o[kResolution] as Resolution | undefined) ?? resolution;
      const send = (addresses: readonly ResolvedAddress[]) => dispatch(pinned(opts, r, r.choose(name.hostname, '', addresses).address), call);
      if (!withAddresses(resolver, name.hostname, opts, handler, send)) return dispatch(pinned(opts, r, undefined), call);
      return true;
    },
  };
  return withHook(layer, { role: 'dns', resolver, resolution });
}

/** Dispatch options that resolve the name in the connect step through `r`, on a pool pinned to `address` if given. */
export function pinned(opts: Dispatcher.DispatchOptions, r: Resolution, address: string | undefined): Dispatcher.DispatchOptions {
  const out: DispatchOptions = { ...opts };
  out[kResolution] = r;
  if (address !== undefined) out[kAddress] = address;
  return out;
}

/**
 * Calls `send` with the host's addresses when the Resolver knows the name: synchronously from the cache
 * (the hot path), or after a refresh of an expired or negative answer, whose failure goes to the handler
 * as the request's error (no controller: nothing started). Returns false for a name never resolved:
 * the caller dispatches it unpinned and the connect step resolves it (so a name only msw answers never
 * meets the resolver). Before waiting on a refresh, undici's own option checks run, so an invalid option
 * is reported as undici's InvalidArgumentError, not as the lookup's error. Shared by dns and balance.
 */
export function withAddresses(
  resolver: Resolver,
  hostname: string,
  opts: object,
  handler: Handler,
  send: (addresses: readonly ResolvedAddress[]) => void,
): boolean {
  const cached = resolver.peek(hostname);
  if (cached !== undefined) {
    send(cached);
    return true;
  }
  if (!resolver.knows(hostname)) return false;
  const invalid = invalidOptions(opts as Record<string, unknown>);
  if (invalid !== undefined) {
    handler.onResponseError?.(NO_CONTROLLER, invalid);
    return true;
  }
  resolver.lookup(hostname).then(
    (addresses) => {
      try {
        send(addresses);
      } catch (err) {
        // dispatch reports its own errors to the handler; only a throwing handler lands here.
        handler.onResponseError?.(NO_CONTROLLER, err as Error);
      }
    },
    (err: Error) => handler.onResponseError?.(NO_CONTROLLER, err),
  );
  return true;
}

/** After a connection error the name is resolved again on the next attempt. */
export class ResolvedCall extends ForwardingHandler {
  readonly #resolver: Resolver;
  readonly #hostname: string;

  constructor(next: Handler, resolver: Resolver, hostname: string) {
    super(next);
    this.#resolver = resolver;
    this.#hostname = hostname;
  }

  override onResponseError(controller: Controller, err: Error): void {
    if (isConnectionError(err)) this.#resolver.invalidate(this.#hostname);
    this.next.onResponseError?.(controller, err);
  }
}
