import { channelName } from '@breakwater/core';

/**
 * diagnostics_channel names this package publishes on (`breakwater:http:<event>`), beside undici's own `undici:*`.
 * `retried` { origin, attempt, delayMs, reason } · `staleRetried` { origin, attempt, error } · `gaveUp` { origin, reason, attempts }
 * · `resolved` { hostname, addresses, ttlMs } · `servedStale` { hostname, error } · `ejected` { hostname, address, port, failures, forMs }
 * · `completed` { origin, method, statusCode?, error?, durationMs }: one per `client.request()`/`client.fetch()`, when the
 * response headers arrive or the request fails (every attempt and backoff included); not for the raw `client.dispatcher`.
 * · `tlsVerificationSkipped` { stack }: a client was built with `dangerouslySkipTlsVerification: true`.
 * · `deadlineHeaderIgnored` { value }: an `x-breakwater-deadline-ms` that is not a number was ignored.
 */
export const HTTP_CHANNELS = Object.freeze({
  retried: channelName('http', 'retried'),
  staleRetried: channelName('http', 'staleRetried'),
  gaveUp: channelName('http', 'gaveUp'),
  resolved: channelName('http', 'resolved'),
  servedStale: channelName('http', 'servedStale'),
  ejected: channelName('http', 'ejected'),
  completed: channelName('http', 'completed'),
  tlsVerificationSkipped: channelName('http', 'tlsVerificationSkipped'),
  deadlineHeaderIgnored: channelName('http', 'deadlineHeaderIgnored'),
});
