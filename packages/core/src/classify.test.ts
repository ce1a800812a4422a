import { describe, expect, it } from 'vitest';
import { BreakwaterError } from './BreakwaterError.js';
import { classify } from './classify.js';

const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('classify', () => {
  it.each([
    ['ETIMEDOUT', 'BW_ERR_PEER_TIMEOUT', /FM-01|FM-02/],
    ['ECONNRESET', 'BW_ERR_PEER_RESET', /FM-07|FM-16/],
    ['EPIPE', 'BW_ERR_PEER_RESET', /idempotent/],
    ['ECONNREFUSED', 'BW_ERR_CONNECT_REFUSED', /listening/],
    ['EADDRNOTAVAIL', 'BW_ERR_PORTS_EXHAUSTED', /ip_local_port_range/],
    ['EHOSTUNREACH', 'BW_ERR_PEER_UNREACHABLE', /unreachable/],
    ['ENETUNREACH', 'BW_ERR_PEER_UNREACHABLE', /route/],
    ['ENOTFOUND', 'BW_ERR_DNS', /NXDOMAIN/],
    ['EMFILE', 'BW_ERR_NETWORK', /CLOSE_WAIT/],
    ['UND_ERR_SOCKET', 'BW_ERR_PEER_CLOSED', /idle/],
    ['UND_ERR_CONNECT_TIMEOUT', 'BW_ERR_CONNECT_TIMEOUT', /SYN/],
    ['CERT_HAS_EXPIRED', 'BW_ERR_TLS', /certificate/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'BW_ERR_TLS', /`tls\.ca`/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'BW_ERR_TLS', /`tls\.servername`/],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'BW_ERR_TLS', /`tls\.cert` and `tls\.key`/],
  ])('%s → %s with a hint naming the failure mode', (code, expected, hint) => {
    const cause = errno(code);
    const e = classify(cause, { host: '198.18.0.2', port: 5432 });
    expect(e.code).toBe(expected);
    expect(e.hint).toMatch(hint);
    expect(e.cause).toBe(cause);
    expect(e.message).toContain('198.18.0.2:5432');
    expect(e.details.errno).toBe(code);
  });

  it('keeps the OpenSSL code of a TLS failure in details, with the problem it stands for', () => {
    for (const [code, problem] of [
      ['SELF_SIGNED_CERT_IN_CHAIN', 'unknown-ca'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'hostname-mismatch'],
      ['CERT_NOT_YET_VALID', 'expired'],
      ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'client-certificate-required'],
      ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'client-certificate-rejected'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'protocol'],
      ['ERR_SSL_SOMETHING_NEW', 'other'],
    ] as const) {
      const e = classify(errno(code), { host: 'api.internal', port: 443 });
      expect(e.code).toBe('BW_ERR_TLS');
      expect(e.details).toMatchObject({ tlsCode: code, tlsProblem: problem, errno: code });
    }
  });

  it('classifies undici\'s "other side closed" by its TLS-alert cause (mTLS refusal after a TLS 1.3 handshake)', () => {
    const closed = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', cause: errno('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') });
    expect(classify(closed).details).toMatchObject({ tlsProblem: 'client-certificate-required' });
    expect(classify(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', cause: errno('ECONNRESET') })).code).toBe('BW_ERR_PEER_CLOSED');
  });

  it('turns a kernel timeout during connect into a connect timeout', () => {
    expect(classify(errno('ETIMEDOUT'), { phase: 'connect' }).code).toBe('BW_ERR_CONNECT_TIMEOUT');
    expect(classify(errno('ETIMEDOUT')).code).toBe('BW_ERR_PEER_TIMEOUT');
  });

  it('records the phase so callers can decide whether a retry is safe', () => {
    expect(classify(errno('ECONNRESET'), { phase: 'connect' }).details.phase).toBe('connect');
    expect(classify(errno('ECONNRESET')).details.phase).toBe('request');
  });

  it('returns a BreakwaterError unchanged', () => {
    const e = new BreakwaterError('BW_ERR_STALLED', 's');
    expect(classify(e)).toBe(e);
  });

  it('maps AbortError and TimeoutError', () => {
    expect(classify(new DOMException('stop', 'AbortError')).code).toBe('BW_ERR_ABORTED');
    expect(classify(AbortSignal.timeout(0).reason ?? new DOMException('t', 'TimeoutError')).code).toMatch(/BW_ERR_(DEADLINE|ABORTED)/);
    expect(classify(new DOMException('t', 'TimeoutError')).code).toBe('BW_ERR_DEADLINE');
  });

  it('wraps unknown errors and non-errors as BW_ERR_NETWORK, retryable only before the request left', () => {
    const unknown = classify(new Error('weird'), { phase: 'connect', elapsedMs: 12.4 });
    expect(unknown.code).toBe('BW_ERR_NETWORK');
    expect(unknown.retryable).toBe(true);
    expect(unknown.message).toContain('after 12 ms');
    expect(classify('a string').retryable).toBe(false);
    expect(classify(undefined).code).toBe('BW_ERR_NETWORK');
  });

  it('formats IPv6 hosts in brackets', () => {
    expect(classify(errno('ECONNREFUSED'), { host: '::1', port: 80 }).message).toContain('[::1]:80');
  });
});
