import type { Controller, Handler } from '../layers/types.js';

type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];
type Trailers = Parameters<NonNullable<Handler['onResponseEnd']>>[1];

/**
 * Forwards every callback of undici's handler API to `next`, the ones the typings omit included
 * (`onResponseStarted`, which fetch's resource timing needs, `onRequestSent`, `onBodySent`), with the
 * controller undici gave (rawHeaders, pause/resume/abort untouched). Layers subclass it and override
 * only what they watch, as undici's own interceptors do with `DecoratorHandler`. The controller is
 * `null` when undici reports an error before the request started (a refused connect, a TLS failure,
 * an invalid option): an override must never read it without `?.`.
 */
export class ForwardingHandler implements Handler {
  protected readonly next: Handler;

  constructor(next: Handler) {
    this.next = next;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.next.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: never): void {
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.next.onResponseStarted?.();
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers, message?: string): void {
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Trailers): void {
    this.next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, err: Error): void {
    this.next.onResponseError?.(controller, err);
  }

  onRequestSent(): void {
    this.next.onRequestSent?.();
  }

  onBodySent(chunk: Buffer): void {
    this.next.onBodySent?.(chunk);
  }
}

/** What a layer passes as the controller of an error undici reports before any request started. */
export const NO_CONTROLLER = null as unknown as Controller;
