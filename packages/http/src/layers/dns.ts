import { aimAt, isConnectionError, nameOf } from '../internal/rewrite.js';
import type { ResolvedAddress, Resolver } from '../Resolver.js';
import type { Controller, Handler, Layer } from './types.js';

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
      withAddresses(resolver, name.hostname, handler, send);
      return true;
    },
  };
}

/** Forwards every callback to `next`; subclasses override the ones they watch. No closures per request. */
/**
 * Calls `send` with the host's addresses: synchronously from the cache (the
 * hot path), or after a lookup whose failure goes to the handler as the
 * request's error. Shared by the dns and balance layers.
 */
export function withAddresses(resolver: Resolver, hostname: string, handler: Handler, send: (addresses: ResolvedAddress[]) => void): void {
  const cached = resolver.peek(hostname);
  if (cached !== undefined) send(cached);
  else
    resolver
      .lookup(hostname)
      .then(send, (err: Error) => handler.onResponseError?.({ aborted: true, paused: false, reason: err, abort() {}, pause() {}, resume() {} }, err));
}

export class ForwardingHandler implements Handler {
  protected readonly next: Handler;

  constructor(next: Handler) {
    this.next = next;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.next.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onResponseStart']>>[2], message?: string): void {
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.next.onResponseError?.(controller, err);
  }
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
