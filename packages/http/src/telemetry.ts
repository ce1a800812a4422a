import { channelName } from '@breakwater/core';

/**
 * diagnostics_channel names this package publishes on (`breakwater:http:<event>`), beside undici's own `undici:*`.
 * Retry decisions are published by @breakwater/retry on `breakwater:retry:retried` { source: 'http', upstream (the origin),
 * attempt, delayMs, error } and `breakwater:retry:gaveUp` { source: 'http', upstream, reason, attempts, retryDelayMs, error }
 * (`RETRY_CHANNELS`), the same events and reasons as `retry()`.
 * · `retried` { origin, attempt, delayMs, reason } and `gaveUp` { origin, reason, attempts }: **deprecated** aliases of those,
 *   published for one more release. · `staleRetried` { origin, attempt, error }: a stale keep-alive resend (FM-07), outside the budget.
 * · `resolved` { hostname, addresses, ttlMs } · `servedStale` { hostname, error } · `ejected` { hostname, address, port, failures, forMs }
 * · `completed` { origin, method, statusCode?, error?, durationMs }: one per `client.request()`/`client.fetch()`/`client.origin(o).request()`, when the
 * response headers arrive or the request fails (every attempt and backoff included); not for the raw `client.dispatcher`.
 * · `tlsVerificationSkipped` { stack }: a client was built with `dangerouslySkipTlsVerification: true`.
 * · `deadlineHeaderIgnored` { value }: an `x-breakwater-deadline-ms` that is not a number was ignored.
 */
export const HTTP_CHANNELS = Object.freeze({
  /** @deprecated use `RETRY_CHANNELS.retried` from @breakwater/retry (`source: 'http'`, `upstream`); published until the next release. */
  retried: channelName('http', 'retried'),
  staleRetried: channelName('http', 'staleRetried'),
  /** @deprecated use `RETRY_CHANNELS.gaveUp` from @breakwater/retry (`source: 'http'`, `upstream`); published until the next release. */
  gaveUp: channelName('http', 'gaveUp'),
  resolved: channelName('http', 'resolved'),
  servedStale: channelName('http', 'servedStale'),
  ejected: channelName('http', 'ejected'),
  completed: channelName('http', 'completed'),
  tlsVerificationSkipped: channelName('http', 'tlsVerificationSkipped'),
  deadlineHeaderIgnored: channelName('http', 'deadlineHeaderIgnored'),
});
