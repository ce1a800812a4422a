/**
 * What a failed TLS handshake most likely means, from the OpenSSL (or Node) code on the error: the
 * words an on-call engineer needs, and the option that fixes it. `problem` is stable, for matching.
 */
export type TlsProblem = 'unknown-ca' | 'hostname-mismatch' | 'expired' | 'client-certificate-required' | 'client-certificate-rejected' | 'protocol' | 'other';

interface TlsRule {
  problem: TlsProblem;
  what: string;
  hint: string;
}

const UNKNOWN_CA: TlsRule = {
  problem: 'unknown-ca',
  what: "the server's certificate is not signed by a CA this client trusts",
  hint:
    "The server's chain does not lead to a trusted CA (a private CA, a self-signed certificate, or a missing intermediate on the server): " +
    "pass the CA's PEM as `tls.ca` (it replaces Node's bundled roots for this client; add them back with tls.rootCertificates if you need both).",
};
const EXPIRED: TlsRule = {
  problem: 'expired',
  what: "the server's certificate has expired or is not valid yet",
  hint: "The server's certificate is outside its validity dates: renew it on the server, and check this machine's clock (NTP).",
};

const RULES: Readonly<Record<string, TlsRule>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT: UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNKNOWN_CA,
  SELF_SIGNED_CERT_IN_CHAIN: UNKNOWN_CA,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNKNOWN_CA,
  CERT_UNTRUSTED: UNKNOWN_CA,
  CERT_HAS_EXPIRED: EXPIRED,
  CERT_NOT_YET_VALID: EXPIRED,
  ERR_TLS_CERT_ALTNAME_INVALID: {
    problem: 'hostname-mismatch',
    what: 'the certificate is not for this hostname',
    hint: 'The certificate is valid but names other hosts (its subjectAltName): call the server by a name on the certificate, or set `tls.servername` to one when you connect by address; never turn verification off for this.',
  },
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: {
    problem: 'client-certificate-required',
    what: 'the server requires a client certificate (mTLS)',
    hint: 'The server asks for a client certificate and got none: pass `tls.cert` and `tls.key` (or `tls.pfx` and `tls.passphrase`).',
  },
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: {
    problem: 'client-certificate-required',
    what: 'the server requires a client certificate (mTLS)',
    hint: 'The server asks for a client certificate and got none: pass `tls.cert` and `tls.key` (or `tls.pfx` and `tls.passphrase`).',
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: {
    problem: 'client-certificate-rejected',
    what: "the server does not trust this client's certificate",
    hint: "The server rejected the client certificate: it is not signed by a CA the server trusts (or the server's own CA list is wrong). Check `tls.cert` against the server's client CA.",
  },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: {
    problem: 'client-certificate-rejected',
    what: "the server rejected this client's certificate",
    hint: 'The server found the client certificate bad (wrong key usage, expired, revoked): check `tls.cert` and `tls.key` with the server’s operator.',
  },
  ERR_SSL_WRONG_VERSION_NUMBER: {
    problem: 'protocol',
    what: 'the peer did not answer in TLS',
    hint: 'The port speaks plain text (http://, or a proxy expecting CONNECT), not TLS: check the scheme and the port.',
  },
  ERR_SSL_UNSUPPORTED_PROTOCOL: {
    problem: 'protocol',
    what: 'no TLS version both sides accept',
    hint: 'The server and `tls.minVersion`/`tls.maxVersion` share no protocol version: upgrade the server or widen the range (TLS 1.2 is the floor worth keeping).',
  },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: {
    problem: 'protocol',
    what: 'no TLS version both sides accept',
    hint: 'The server and `tls.minVersion`/`tls.maxVersion` share no protocol version: upgrade the server or widen the range (TLS 1.2 is the floor worth keeping).',
  },
};

/** The problem, message and hint for a TLS failure code; a generic one for codes not listed. */
export function tlsRule(code: string): TlsRule {
  return RULES[code] ?? { problem: 'other', what: 'TLS handshake failed', hint: '' };
}
