import { RETRY_MARKER_HEADER } from '@breakwater/retry';
import { firstValue } from './internal/headers.js';
import { DEADLINE_HEADER } from './layers/deadline.js';

/**
 * The headers a tier forwards from the request it serves to the requests it makes: the retry marker
 * (so only the tier nearest the failure retries, FM-11) and the time left (so nobody works for a caller
 * that has given up).
 * @example
 * server.on('request', async (req, res) => {
 *   const r = await http.request(usersUrl, { headers: propagationHeaders(req) });
 * });
 */
export function propagationHeaders(incoming: { headers: Record<string, string | string[] | undefined> }): Record<string, string> {
  const out: Record<string, string> = {};
  const marker = firstValue(incoming.headers[RETRY_MARKER_HEADER]);
  const deadline = firstValue(incoming.headers[DEADLINE_HEADER]);
  if (marker !== undefined) out[RETRY_MARKER_HEADER] = marker;
  if (deadline !== undefined) out[DEADLINE_HEADER] = deadline;
  return out;
}
