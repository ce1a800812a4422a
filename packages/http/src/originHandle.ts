import { BreakwaterError } from '@breakwater/core';
import type { Dispatcher } from 'undici';
import type { DeadlineRequestOptions } from './layers/deadline.js';

/**
 * What `client.origin(o).request()` takes: undici's `Dispatcher.request` options (those of `pool.request()`:
 * `path` and `method` required, no URL) without `origin`, plus per-request `deadlineMs`, `headersTimeoutMs`,
 * `bodyTimeoutMs`.
 */
export type OriginRequestOptions = Omit<Dispatcher.RequestOptions, 'origin'> & DeadlineRequestOptions;

/** Requests to one origin through the client's layers, without a URL to parse per request. */
export interface OriginHandle {
  /** As `new URL(o).origin` gives it, e.g. `http://users.internal:8080`. */
  readonly origin: string;
  /** Shaped like undici's `pool.request({ path, method })`; errors as `client.request()`'s. */
  request(options: OriginRequestOptions): Promise<Dispatcher.ResponseData>;
}

type Send = (opts: Dispatcher.RequestOptions & DeadlineRequestOptions) => Promise<Dispatcher.ResponseData>;

/** A handle on `origin` whose requests go to `send` (the client's dispatcher), the origin parsed once here. */
export function originHandle(origin: string | URL, send: Send): OriginHandle {
  const parsed = parseOrigin(origin);
  return {
    origin: parsed,
    // One copy of the options per request (the caller's object is never changed); undici validates the rest.
    request: (options) => send({ ...options, origin: parsed }),
  };
}

function parseOrigin(origin: string | URL): string {
  let url: URL | undefined;
  try {
    url = origin instanceof URL ? origin : new URL(String(origin));
  } catch {}
  if (
    url === undefined ||
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    url.pathname !== '/' ||
    url.search !== '' ||
    url.hash !== '' ||
    url.username !== '' ||
    url.password !== ''
  ) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`origin\` to be an http(s) origin such as http://host:8080, got ${String(origin)}`, {
      hint: 'Pass the scheme, host and port only; the path (and query) go in each request: client.origin(o).request({ path, method }).',
      details: { key: 'origin' },
    });
  }
  return url.origin;
}
