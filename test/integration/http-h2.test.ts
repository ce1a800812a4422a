import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createClient } from '@breakwater/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../support/tlsCerts.js';

// Issue #16: HTTP/2 against a real h2 server (Node's http2 over TLS, ALPN h2 + http/1.1), through the full stack.
let pki: TestPki;
let server: http2.Http2SecureServer;
let origin: string;
const sessions = new Set<http2.ServerHttp2Session>();
const servedBy = new Set<unknown>();

beforeAll(async () => {
  pki = makeTestPki();
  server = http2.createSecureServer({ ...pki.server, allowHTTP1: true }, (req, res) => {
    if (req.httpVersion === '2.0') servedBy.add(req.stream.session);
    res.end(JSON.stringify({ version: req.httpVersion }));
  });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://localhost:${(server.address() as AddressInfo).port}`;
}, 30_000);
afterAll(async () => {
  for (const s of sessions) s.destroy();
  await new Promise((r) => server.close(r));
  pki?.remove();
});

const pinned = { resolve: async () => [{ address: '127.0.0.1', family: 4 as const, ttlMs: 60_000 }] };

async function versions(allowH2: boolean): Promise<string[]> {
  const client = createClient({ ...pinned, tls: { ca: pki.ca.cert }, allowH2 });
  try {
    return await Promise.all(
      Array.from({ length: 5 }, async () => {
        const res = await client.request(`${origin}/`);
        return ((await res.body.json()) as { version: string }).version;
      }),
    );
  } finally {
    await client.close();
  }
}

describe('HTTP/2 (allowH2)', () => {
  it('`allowH2: true` negotiates h2 with a real h2 server; five concurrent requests share one session', async () => {
    expect(await versions(true)).toEqual(['2.0', '2.0', '2.0', '2.0', '2.0']);
    expect(servedBy.size).toBe(1);
  });

  it('the default (false) stays on HTTP/1.1 with the same server (see the README for why)', async () => {
    expect(await versions(false)).toEqual(['1.1', '1.1', '1.1', '1.1', '1.1']);
  });
});
