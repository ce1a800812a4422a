import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createClient, HTTP_CHANNELS, type HttpClientOptions } from '@breakwater/http';
import { request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type Pem, type TestPki } from '../support/tlsCerts.js';

// Issue #16: TLS and mTLS against real Node https servers, with a throw-away CA made by `openssl` here.
// Every failure is also shown on plain undici (the naive path), so no test passes by accident.
let pki: TestPki;
const servers: https.Server[] = [];

async function serve(cert: Pem, mtls = false): Promise<string> {
  const server = https.createServer({ ...cert, ...(mtls ? { ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(JSON.stringify({ alpn: (req.socket as TLSSocket).alpnProtocol, client: peer?.subject?.CN ?? null }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `https://localhost:${(server.address() as AddressInfo).port}`;
}

// `localhost` through Breakwater's resolver, pinned to the IPv4 loopback the servers listen on.
const pinned: HttpClientOptions = { resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }], attempts: 1 };

async function get(options: HttpClientOptions, url: string): Promise<{ body?: { alpn: string; client: string | null }; error?: Record<string, unknown> }> {
  const client = createClient({ ...pinned, ...options });
  try {
    const res = await client.request(url);
    return { body: (await res.body.json()) as { alpn: string; client: string | null } };
  } catch (error) {
    return { error: error as Record<string, unknown> };
  } finally {
    await client.close();
  }
}

async function naive(url: string, connect: Record<string, unknown> = {}): Promise<{ code?: string }> {
  const { Agent } = await import('undici');
  const agent = new Agent({ connect });
  try {
    const res = await undiciRequest(url.replace('localhost', '127.0.0.1'), { dispatcher: agent, headers: { host: new URL(url).host } });
    await res.body.dump();
    return {};
  } catch (e) {
    return e as { code?: string };
  } finally {
    await agent.close();
  }
}

let plain: string;
let expired: string;
let wrongName: string;
let mtls: string;

beforeAll(async () => {
  pki = makeTestPki();
  [plain, expired, wrongName, mtls] = await Promise.all([serve(pki.server), serve(pki.expired), serve(pki.wrongName), serve(pki.server, true)]);
}, 30_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  pki?.remove();
});

describe('TLS with a private CA (server certificate only)', () => {
  it('`tls.ca` trusts the private CA: 200 through the full default stack', async () => {
    const { body, error } = await get({ tls: { ca: pki.ca.cert } }, `${plain}/`);
    expect(error).toBeUndefined();
    expect(body).toEqual({ alpn: 'http/1.1', client: null });
  });

  it('without it: BW_ERR_TLS, unknown-ca, the OpenSSL code and a hint naming `tls.ca` (naive undici fails the same way)', async () => {
    const { error } = await get({}, `${plain}/`);
    expect(error).toMatchObject({ code: 'BW_ERR_TLS', details: { tlsCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', tlsProblem: 'unknown-ca', host: 'localhost' } });
    expect(error?.hint).toMatch(/`tls\.ca`/);
    expect((await naive(`${plain}/`)).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('an expired certificate: BW_ERR_TLS expired (CERT_HAS_EXPIRED), even with the right CA', async () => {
    const { error } = await get({ tls: { ca: pki.ca.cert } }, `${expired}/`);
    expect(error).toMatchObject({ code: 'BW_ERR_TLS', details: { tlsCode: 'CERT_HAS_EXPIRED', tlsProblem: 'expired' } });
    expect(error?.hint).toMatch(/clock/);
    expect((await naive(`${expired}/`, { ca: pki.ca.cert })).code).toBe('CERT_HAS_EXPIRED');
  });

  it('a hostname mismatch: BW_ERR_TLS hostname-mismatch; `tls.servername` naming the certificate’s host fixes it (healthy but unusual)', async () => {
    const { error } = await get({ tls: { ca: pki.ca.cert } }, `${wrongName}/`);
    expect(error).toMatchObject({ code: 'BW_ERR_TLS', details: { tlsCode: 'ERR_TLS_CERT_ALTNAME_INVALID', tlsProblem: 'hostname-mismatch' } });
    expect(error?.hint).toMatch(/`tls\.servername`/);
    expect((await naive(`${wrongName}/`, { ca: pki.ca.cert, servername: 'localhost' })).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const fixed = await get({ tls: { ca: pki.ca.cert, servername: 'api.internal' } }, `${wrongName}/`);
    expect(fixed.error).toBeUndefined();
  });

  it('a custom checkServerIdentity is called (pinning), and its refusal is BW_ERR_TLS', async () => {
    const seen: string[] = [];
    const { error } = await get(
      {
        tls: {
          ca: pki.ca.cert,
          checkServerIdentity: (host, cert) => {
            seen.push(`${host}:${cert.subject.CN}`);
            return Object.assign(new Error('pin mismatch'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
          },
        },
      },
      `${plain}/`,
    );
    expect(seen).toEqual(['localhost:localhost']);
    expect(error).toMatchObject({ code: 'BW_ERR_TLS' });
  });

  it('`dangerouslySkipTlsVerification` connects to an unknown CA, with a SecurityWarning and a channel message', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    const published: unknown[] = [];
    const onMessage = (m: unknown) => published.push(m);
    process.on('warning', onWarning);
    subscribe(HTTP_CHANNELS.tlsVerificationSkipped, onMessage);
    try {
      const { body, error } = await get({ dangerouslySkipTlsVerification: true }, `${plain}/`);
      expect(error).toBeUndefined();
      expect(body?.alpn).toBe('http/1.1');
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => [w.name, (w as { code?: string }).code])).toEqual([['SecurityWarning', 'BW_TLS_VERIFICATION_SKIPPED']]);
      expect(published).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
      unsubscribe(HTTP_CHANNELS.tlsVerificationSkipped, onMessage);
    }
  });
});

describe('mTLS (the server requires a client certificate)', () => {
  it('`tls.cert` + `tls.key` signed by the CA the server trusts: 200, the server sees the client’s CN', async () => {
    const { body, error } = await get({ tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } }, `${mtls}/`);
    expect(error).toBeUndefined();
    expect(body?.client).toBe('checkout-service');
  });

  it('no client certificate: BW_ERR_TLS client-certificate-required, hint naming `tls.cert` and `tls.key`', async () => {
    const { error } = await get({ tls: { ca: pki.ca.cert } }, `${mtls}/`);
    expect(error).toMatchObject({
      code: 'BW_ERR_TLS',
      details: { tlsCode: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', tlsProblem: 'client-certificate-required' },
    });
    expect(error?.hint).toMatch(/`tls\.cert` and `tls\.key`/);
    // Naive undici: the alert is read, then the FIN, and only "other side closed" is reported.
    expect(await naive(`${mtls}/`, { ca: pki.ca.cert, servername: 'localhost' })).toMatchObject({ code: 'UND_ERR_SOCKET', message: 'other side closed' });
  });

  it('a client certificate from a CA the server does not trust: a Node server closes without a TLS alert, so only BW_ERR_PEER_CLOSED can be said', async () => {
    // Node's TLS server checks client certificates in JS after the handshake and destroys the socket, sending
    // no alert (OpenSSL-based servers send `unknown_ca`, classified as client-certificate-rejected: unit-tested
    // in core's classify.test.ts). Stated here so the limit is known, not guessed.
    const { error } = await get({ tls: { ca: pki.ca.cert, cert: pki.strangerClient.cert, key: pki.strangerClient.key } }, `${mtls}/`);
    expect(error).toMatchObject({ code: 'BW_ERR_PEER_CLOSED' });
  });

  it('a POST refused for want of a certificate is reported as TLS, not retried, and reaches no handler', async () => {
    const client = createClient({ ...pinned, attempts: 3, idempotencyKey: true, tls: { ca: pki.ca.cert } });
    try {
      const error = await client.request(`${mtls}/`, { method: 'POST', body: 'once' }).then(
        () => undefined,
        (e: Record<string, unknown>) => e,
      );
      expect(error).toMatchObject({ code: 'BW_ERR_TLS', retryable: false, details: { attempts: 1 } });
    } finally {
      await client.close();
    }
  });
});

describe('a connect that fails before the request is sent, through the default stack', () => {
  it('a refused port gives BW_ERR_CONNECT_REFUSED (undici calls onResponseError without a controller: this crashed the process)', async () => {
    const { error } = await get({}, 'http://localhost:1/');
    expect(error).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED' });
  });
});

describe('bad `tls` options fail at createClient(), naming the key', () => {
  const cases: [string, unknown, RegExp][] = [
    ['rejectUnauthorized: false', { rejectUnauthorized: false }, /`dangerouslySkipTlsVerification: true`/],
    ['a key without its certificate', { key: 'x' }, /`tls\.cert` with `tls\.key`/],
    ['a PEM that is not one', { ca: 'not a pem', cert: 'nope', key: 'nope' }, /`tls` does not make a TLS context/],
    ['a typo', { serverName: 'x' }, /did you mean `tls\.servername`/],
    ['a key the client owns', { ALPNProtocols: ['h2'] }, /use `allowH2`/],
    ['a bad version', { minVersion: 'TLSv1.4' }, /`tls\.minVersion` to be one of/],
    ['not an object', 'ca.pem', /Expected `tls` to be tls\.ConnectionOptions/],
  ];
  it.each(cases)('%s', (_name, tls, message) => {
    expect(() => createClient({ tls } as HttpClientOptions)).toThrow(message);
  });

  it('a wrong passphrase for an encrypted key', () => {
    expect(() => createClient({ tls: { pfx: Buffer.from('garbage'), passphrase: 'x' } })).toThrow(/`tls` does not make a TLS context/);
  });
});
