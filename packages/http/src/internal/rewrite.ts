import net from 'node:net';

export type OriginName = { readonly url: URL; readonly hostname: string };

// Parsed origins: a client talks to a handful, and a URL parse per request per layer adds up. Bounded,
// so a client fed many distinct origins does not grow it without limit. Nobody mutates the cached URLs.
const names = new Map<string, OriginName | undefined>();
const MAX_NAMES = 1_024;

/** The hostname of `origin` when it is a name to resolve (not an IP literal); else undefined. */
export function nameOf(origin: unknown): OriginName | undefined {
  if (typeof origin !== 'string') return parseName(origin);
  if (names.has(origin)) return names.get(origin);
  const name = parseName(origin);
  if (names.size >= MAX_NAMES) names.clear();
  names.set(origin, name);
  return name;
}

function parseName(origin: unknown): OriginName | undefined {
  if (origin === undefined || origin === null) return undefined;
  let url: URL;
  try {
    url = origin instanceof URL ? origin : new URL(String(origin));
  } catch {
    return undefined;
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (net.isIP(hostname) !== 0) return undefined;
  return { url, hostname };
}

/** Connection-level failures: the address (or the DNS answer) may be wrong. */
export function isConnectionError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET', 'UND_ERR_SOCKET', 'EHOSTDOWN'].includes(code)
  );
}

/** undici rejected how it was called (an invalid option or header): says nothing about the peer. */
export function isUsageError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}
