import { aimAt, isConnectionError, nameOf } from '../internal/rewrite.js';
import type { Resolver } from '../Resolver.js';
import type { Handler, Layer } from './types.js';

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
        const wrapped: Handler = {
          ...handlerMethods(handler),
          onResponseError: (c, e) => {
            if (isConnectionError(e)) resolver.invalidate(name.hostname);
            handler.onResponseError?.(c, e);
          },
        };
        dispatch(aimAt(opts, name.url, pick.address), wrapped);
      };
      const cached = resolver.peek(name.hostname);
      if (cached !== undefined) send(cached);
      else
        resolver
          .lookup(name.hostname)
          .then(send, (err: Error) => handler.onResponseError?.({ aborted: true, paused: false, reason: err, abort() {}, pause() {}, resume() {} }, err));
      return true;
    },
  };
}

/** All of `handler`'s methods bound, to spread into a wrapper that overrides some. */
export function handlerMethods(handler: Handler): Handler {
  return {
    onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
    onRequestUpgrade: (c, s, h, sock) => handler.onRequestUpgrade?.(c, s, h, sock),
    onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
    onResponseData: (c, d) => handler.onResponseData?.(c, d),
    onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
    onResponseError: (c, e) => handler.onResponseError?.(c, e),
  };
}
