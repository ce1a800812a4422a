import { BreakwaterError } from './BreakwaterError.js';
import type { ErrorCode } from './codes.js';
import { tlsRule } from './tlsErrors.js';

/** Where the error happened; used for the message and for `retryable`. */
export interface ClassifyContext {
  host?: string;
  port?: number;
  /**
   * `connect`: nothing reached the peer, so any request is safe to retry.
   * `request`: the peer may have processed it; retry only if idempotent.
   * @defaultValue 'request'
   */
  phase?: 'connect' | 'request';
  /** Milliseconds since the operation started, for the message. */
  elapsedMs?: number;
}

interface Rule {
  code: ErrorCode;
  what: string;
  hint?: string;
  details?: Record<string, unknown>;
}

const ERRNO_RULES: Readonly<Record<string, Rule>> = {
  ETIMEDOUT: { code: 'BW_ERR_PEER_TIMEOUT', what: 'the kernel timed the connection out (keepalive or retransmissions unanswered)' },
  ECONNRESET: { code: 'BW_ERR_PEER_RESET', what: 'the peer reset the connection' },
  EPIPE: { code: 'BW_ERR_PEER_RESET', what: 'write to a connection the peer already closed (EPIPE)' },
  ECONNABORTED: { code: 'BW_ERR_PEER_RESET', what: 'the connection was aborted' },
  ECONNREFUSED: { code: 'BW_ERR_CONNECT_REFUSED', what: 'connection refused' },
  EADDRNOTAVAIL: { code: 'BW_ERR_PORTS_EXHAUSTED', what: 'no free local port (EADDRNOTAVAIL)' },
  EADDRINUSE: {
    code: 'BW_ERR_PORTS_EXHAUSTED',
    what: 'local address already in use (EADDRINUSE)',
    hint: 'A fixed local port is taken, or the ephemeral range is exhausted by TIME_WAIT (FM-03): reuse connections or widen net.ipv4.ip_local_port_range.',
  },
  EHOSTUNREACH: { code: 'BW_ERR_PEER_UNREACHABLE', what: 'no route to host' },
  ENETUNREACH: { code: 'BW_ERR_PEER_UNREACHABLE', what: 'network unreachable' },
  EHOSTDOWN: { code: 'BW_ERR_PEER_UNREACHABLE', what: 'host is down' },
  ENETDOWN: { code: 'BW_ERR_PEER_UNREACHABLE', what: 'network is down' },
  ENOTFOUND: {
    code: 'BW_ERR_DNS',
    what: 'name not found',
    hint: 'The name does not resolve (NXDOMAIN): check the name; a resolver caching negative answers too long delays recovery (FM-13).',
  },
  EAI_AGAIN: { code: 'BW_ERR_DNS', what: 'temporary DNS failure' },
  ENODATA: { code: 'BW_ERR_DNS', what: 'no DNS records of the requested type' },
  ESERVFAIL: { code: 'BW_ERR_DNS', what: 'the DNS server failed' },
  EMFILE: {
    code: 'BW_ERR_NETWORK',
    what: 'too many open files (EMFILE)',
    hint: 'The process hit its file-descriptor limit: connections leak (CLOSE_WAIT, FM-17) or the limit (ulimit -n) is too low.',
  },
  ENFILE: { code: 'BW_ERR_NETWORK', what: 'the system file table is full (ENFILE)' },
  ENOBUFS: {
    code: 'BW_ERR_NETWORK',
    what: 'no buffer space (ENOBUFS)',
    hint: 'Kernel socket memory or the conntrack table is exhausted (FM-18): see `breakwater doctor`.',
  },
  // undici's own codes, so the http layer needs no second mapping.
  UND_ERR_CONNECT_TIMEOUT: { code: 'BW_ERR_CONNECT_TIMEOUT', what: 'connect timed out' },
  UND_ERR_SOCKET: { code: 'BW_ERR_PEER_CLOSED', what: 'the other side closed the connection' },
  UND_ERR_CLOSED: { code: 'BW_ERR_CLOSED', what: 'the client was closed' },
  UND_ERR_DESTROYED: { code: 'BW_ERR_CLOSED', what: 'the client was destroyed' },
  UND_ERR_HEADERS_TIMEOUT: { code: 'BW_ERR_HEADERS_TIMEOUT', what: 'no response headers in time' },
  UND_ERR_BODY_TIMEOUT: {
    code: 'BW_ERR_STALLED',
    what: 'the response body stopped arriving',
    hint: 'No body bytes for the body timeout: the server stopped mid-response, or the rest is lost on the way (PMTU black hole, FM-06). For streams with long quiet gaps (SSE, long polls) raise `bodyTimeoutMs` per request.',
  },
  UND_ERR_INVALID_ARG: { code: 'BW_ERR_INVALID_OPTION', what: 'invalid argument' },
  UND_ERR_ABORTED: { code: 'BW_ERR_ABORTED', what: 'the request was aborted' },
  ABORT_ERR: { code: 'BW_ERR_ABORTED', what: 'the operation was aborted' },
};

function errnoOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code } = err as { code?: unknown };
  return typeof code === 'string' ? code : undefined;
}

function isTlsError(code: string | undefined, err: unknown): boolean {
  if (code === undefined) return false;
  if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.startsWith('CERT_')) return true;
  if (/^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(VERIFY|GET)_|ERR_OSSL_)/.test(code)) return true;
  return err instanceof Error && /\bssl3?_|tls alert/i.test(err.message);
}

function where(ctx: ClassifyContext): string {
  if (ctx.host === undefined) return '';
  const host = ctx.host.includes(':') ? `[${ctx.host}]` : ctx.host;
  return ctx.port === undefined ? ` (${host})` : ` (${host}:${ctx.port})`;
}

/**
 * Turns any error (an OS errno, an undici error, an AbortError, a
 * BreakwaterError) into a BreakwaterError with a stable code, `retryable`
 * and a hint naming the failure mode. The original error is `cause`.
 * A BreakwaterError is returned unchanged.
 *
 * `retryable` says whether another attempt may succeed. Whether it is *safe*
 * is the caller's call: `details.phase` is `connect` when nothing reached the
 * peer; in the `request` phase only idempotent operations should be resent.
 */
export function classify(err: unknown, ctx: ClassifyContext = {}): BreakwaterError {
  if (err instanceof BreakwaterError) return err;
  const errno = errnoOf(err);
  // undici's "other side closed" whose cause is a TLS alert read just before (set by @breakwater/http's connector).
  const cause = errno === 'UND_ERR_SOCKET' ? (err as { cause?: unknown }).cause : undefined;
  if (cause !== undefined && isTlsError(errnoOf(cause), cause)) return classify(cause, ctx);
  const phase = ctx.phase ?? 'request';
  const elapsed = ctx.elapsedMs === undefined ? '' : ` after ${Math.round(ctx.elapsedMs)} ms`;
  const details = { ...ctx, phase, ...(errno === undefined ? {} : { errno }) };
  const original = err instanceof Error ? err.message : String(err);

  let rule: Rule | undefined = errno === undefined ? undefined : ERRNO_RULES[errno];
  if (rule === undefined && err instanceof Error && err.name === 'AbortError') rule = ERRNO_RULES.ABORT_ERR;
  if (rule === undefined && isTlsError(errno, err)) {
    // The OpenSSL code stays in details for matching; the hint names the fix (tlsErrors.ts).
    const tls = tlsRule(errno ?? '');
    rule = { code: 'BW_ERR_TLS', what: tls.what, ...(tls.hint === '' ? {} : { hint: tls.hint }), details: { tlsCode: errno, tlsProblem: tls.problem } };
  }
  if (rule === undefined && err instanceof Error && err.name === 'TimeoutError') {
    rule = { code: 'BW_ERR_DEADLINE', what: 'the operation timed out' };
  }
  if (rule === undefined) {
    return new BreakwaterError('BW_ERR_NETWORK', `${phase} failed${where(ctx)}${elapsed}: ${original}`, {
      cause: err,
      retryable: phase === 'connect',
      details,
    });
  }
  // A reset or a kernel timeout during connect means the request never left.
  let code = rule.code;
  if (phase === 'connect' && code === 'BW_ERR_PEER_TIMEOUT') code = 'BW_ERR_CONNECT_TIMEOUT';
  return new BreakwaterError(code, `${rule.what}${where(ctx)}${elapsed}: ${original}`, {
    cause: err,
    ...(rule.hint === undefined ? {} : { hint: rule.hint }),
    details: rule.details === undefined ? details : { ...details, ...rule.details },
  });
}
