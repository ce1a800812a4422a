import tls from 'node:tls';
import { BreakwaterError, channel, describe } from '@breakwater/core';

/**
 * `tls.ConnectionOptions` for every HTTPS connection (and, through a proxy, for the origin behind it),
 * less what the client owns: the socket, host and port, ALPN (from `allowH2`), sessions, timeouts.
 * `rejectUnauthorized: false` is refused: the loud switch is `dangerouslySkipTlsVerification`.
 * @example { ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client.key') }
 */
export type HttpTlsOptions = Omit<tls.ConnectionOptions, (typeof OWNED)[number]>;

/** Keys the client sets itself; giving one is a mistake worth naming. */
const OWNED = ['socket', 'host', 'port', 'path', 'ALPNProtocols', 'session', 'timeout', 'lookup', 'allowHalfOpen'] as const;

/** Every other key of tls.ConnectionOptions (and the SecureContext options it takes), for "did you mean". */
const KNOWN = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'servername',
  'minVersion',
  'maxVersion',
  'ciphers',
  'checkServerIdentity',
  'rejectUnauthorized',
  'ecdhCurve',
  'sigalgs',
  'crl',
  'secureOptions',
  'secureProtocol',
  'secureContext',
  'minDHSize',
  'dhparam',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'clientCertEngine',
  'pskCallback',
  'requestOCSP',
  'enableTrace',
  'highWaterMark',
  'sessionIdContext',
  'honorCipherOrder',
  'requestCert',
  'ticketKeys',
  'sessionTimeout',
] as const;

const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
// The keys that build a SecureContext: tried once at createClient(), so a bad PEM or passphrase fails there.
const CONTEXT_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'minVersion', 'maxVersion', 'ecdhCurve', 'sigalgs', 'crl', 'secureOptions'];

function invalid(key: string, message: string, cause?: unknown): BreakwaterError {
  return new BreakwaterError('BW_ERR_INVALID_OPTION', message, { details: { key }, ...(cause === undefined ? {} : { cause }) });
}

/** Validates the `tls` option; returns it unchanged (a fresh object), or undefined when not given. */
export function resolveTlsOptions(value: unknown): HttpTlsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('tls', `Expected \`tls\` to be tls.ConnectionOptions ({ ca, cert, key, … }), got ${describe(value)}`);
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if ((OWNED as readonly string[]).includes(key)) {
      throw invalid(`tls.${key}`, `\`tls.${key}\` is set by the client (${key === 'ALPNProtocols' ? 'use `allowH2`' : 'per connection'}); remove it`);
    }
    if (!(KNOWN as readonly string[]).includes(key)) {
      const near = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase() || k.startsWith(key) || key.startsWith(k));
      throw invalid(`tls.${key}`, `Unknown option \`tls.${key}\`${near === undefined ? '' : ` (did you mean \`tls.${near}\`?)`}`);
    }
  }
  if (o.rejectUnauthorized === false) {
    throw invalid(
      'tls.rejectUnauthorized',
      '`tls.rejectUnauthorized: false` is refused: trust a private CA with `tls.ca`; to really turn verification off, set `dangerouslySkipTlsVerification: true`',
    );
  }
  if (o.rejectUnauthorized !== undefined && o.rejectUnauthorized !== true) {
    throw invalid('tls.rejectUnauthorized', `Expected \`tls.rejectUnauthorized\` to be true or absent, got ${describe(o.rejectUnauthorized)}`);
  }
  for (const key of ['minVersion', 'maxVersion'] as const) {
    if (o[key] !== undefined && !(VERSIONS as readonly unknown[]).includes(o[key])) {
      throw invalid(`tls.${key}`, `Expected \`tls.${key}\` to be one of ${VERSIONS.map((v) => `"${v}"`).join(', ')}, got ${describe(o[key])}`);
    }
  }
  if (o.key !== undefined && o.cert === undefined) throw invalid('tls.cert', 'Expected `tls.cert` with `tls.key`: a client certificate needs both');
  if (o.cert !== undefined && o.key === undefined) throw invalid('tls.key', 'Expected `tls.key` with `tls.cert`: a client certificate needs both');
  if (o.checkServerIdentity !== undefined && typeof o.checkServerIdentity !== 'function') {
    throw invalid('tls.checkServerIdentity', `Expected \`tls.checkServerIdentity\` to be a function, got ${describe(o.checkServerIdentity)}`);
  }
  if (o.servername !== undefined && (typeof o.servername !== 'string' || o.servername === '')) {
    throw invalid('tls.servername', `Expected \`tls.servername\` to be a non-empty hostname, got ${describe(o.servername)}`);
  }
  if (o.secureContext === undefined) {
    try {
      tls.createSecureContext(Object.fromEntries(CONTEXT_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw invalid(
        'tls',
        `\`tls\` does not make a TLS context (${reason}): check the PEM of \`ca\`/\`cert\`/\`key\`, the \`pfx\` and its \`passphrase\``,
        err,
      );
    }
  }
  return { ...(o as HttpTlsOptions) };
}

const verificationSkipped = channel('http', 'tlsVerificationSkipped');

/**
 * Said once per client that turns verification off: a process warning (`BW_TLS_VERIFICATION_SKIPPED`,
 * printed by Node unless warnings are silenced) and `breakwater:http:tlsVerificationSkipped` for the
 * service's own telemetry. Any certificate, from anyone on the path, is then accepted.
 */
export function warnVerificationSkipped(): void {
  process.emitWarning(
    'createClient({ dangerouslySkipTlsVerification: true }): TLS certificates are NOT verified; anyone on the path can read and change this traffic',
    { type: 'SecurityWarning', code: 'BW_TLS_VERIFICATION_SKIPPED' },
  );
  if (verificationSkipped.hasSubscribers) verificationSkipped.publish({ stack: new Error('tls verification skipped here').stack });
}

/** The TLS options of a connection to an origin: `tls`, and the insecure switch when it is on. */
export function requestTlsOf(o: { tls: HttpTlsOptions | undefined; dangerouslySkipTlsVerification: boolean }): Record<string, unknown> {
  return { ...o.tls, ...(o.dangerouslySkipTlsVerification ? { rejectUnauthorized: false } : {}) };
}
