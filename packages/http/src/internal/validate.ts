import { errors } from 'undici';
import { isIterableHeaders } from './headers.js';

/**
 * undici's synchronous checks on dispatch options (lib/core/request.js, undici 8.12), for the one path
 * where a layer must wait before dispatching: a DNS lookup of a name not in the cache. Without them an
 * invalid `reset`, `expectContinue` or `maxRedirections` to a name that does not resolve would fail with
 * the lookup's error instead of undici's InvalidArgumentError. Only the checks that need no request
 * state; undici still runs all of them when the request is dispatched. Returns the error, or undefined.
 */
export function invalidOptions(opts: Record<string, unknown>): Error | undefined {
  const fail = (message: string) => new errors.InvalidArgumentError(message);
  const { path, method, upgrade, headersTimeout, bodyTimeout, reset, expectContinue, throwOnError, maxRedirections, typeOfService, headers } = opts;
  if (typeof path !== 'string') return fail('path must be a string');
  if (path[0] !== '/' && !(path.startsWith('http://') || path.startsWith('https://')) && method !== 'CONNECT') {
    return fail('path must be an absolute URL or start with a slash');
  }
  if (typeof method !== 'string') return fail('method must be a string');
  if (upgrade && typeof upgrade !== 'string') return fail('upgrade must be a string');
  if (headersTimeout != null && (!Number.isFinite(headersTimeout) || (headersTimeout as number) < 0)) return fail('invalid headersTimeout');
  if (bodyTimeout != null && (!Number.isFinite(bodyTimeout) || (bodyTimeout as number) < 0)) return fail('invalid bodyTimeout');
  if (reset != null && typeof reset !== 'boolean') return fail('invalid reset');
  if (expectContinue != null && typeof expectContinue !== 'boolean') return fail('invalid expectContinue');
  if (throwOnError != null) return fail('invalid throwOnError');
  if (maxRedirections != null && maxRedirections !== 0) return fail('maxRedirections is not supported, use the redirect interceptor');
  if (typeOfService != null && (!Number.isInteger(typeOfService) || (typeOfService as number) < 0 || (typeOfService as number) > 255)) {
    return fail('typeOfService must be an integer between 0 and 255');
  }
  if (Array.isArray(headers)) {
    if (headers.length % 2 !== 0) return fail('headers array must be even');
  } else if (headers !== null && typeof headers === 'object') {
    if (isIterableHeaders(headers)) {
      for (const h of headers as Iterable<unknown>) if (!Array.isArray(h) || h.length !== 2) return fail('headers must be in key-value pair format');
    }
  } else if (headers != null) return fail('headers must be an object or an array');
  return undefined;
}
