import { ForwardingHandler, NO_CONTROLLER } from '../internal/forward.js';
import { aimAt, isConnectionError, nameOf } from '../internal/rewrite.js';
import { invalidOptions } from '../internal/validate.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import type { Controller, Handler, Layer } from './types.js';

export { ForwardingHandler };

/**
 * Resolves the origin's name through Breakwater's cache (TTL honoured and capped, negative answers capped,
 * serve-stale on resolver failure, FM-13) and sends the request to one of its addresses, in turn. After a
 * connection error the name is resolved again. Skipped when the origin is an IP (the balancer chose one).
 */
export function dnsLayer(resolver: Resolver): Layer {
  let turn = 0;
  return {
    role: 'dns',
    description: 'TTL-honouring DNS cache with capped negative caching and serve-stale',
    interceptor: (dispatch) => (opts, handler) => {
      const name = nameOf(opts.origin);
      if (name === undefined) return dispatch(opts, handler);
      const send = (addresses: { address: string }[]) => {
        const pick = addresses[turn++ % addresses.length]!;
        dispatch(aimAt(opts, name.url, pick.address), new ResolvedCall(handler, resolver, name.hostname));
      };
      withAddresses(resolver, name.hostname, opts, handler, send);
      return true;
    },
  };
}

/**
 * Calls `send` with the host's addresses: synchronously from the cache (the hot path), or after a
 * lookup whose failure goes to the handler as the request's error (no controller: nothing started).
 * Before waiting on a lookup, undici's own option checks run, so an invalid option is reported as
 * undici's InvalidArgumentError, not as the lookup's ENOTFOUND. Shared by the dns and balance layers.
 */
export function withAddresses(resolver: Resolver, hostname: string, opts: object, handler: Handler, send: (addresses: ResolvedAddress[]) => void): void {
  const cached = resolver.peek(hostname);
  if (cached !== undefined) {
    send(cached);
    return;
  }
  const invalid = invalidOptions(opts as Record<string, unknown>);
  if (invalid !== undefined) {
    handler.onResponseError?.(NO_CONTROLLER, invalid);
    return;
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
}

/** After a connection error the name is resolved again on the next attempt. */
class ResolvedCall extends ForwardingHandler {
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
