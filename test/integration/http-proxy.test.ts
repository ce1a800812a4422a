import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@breakwater/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../support/tlsCerts.js';

// Issue #16: a real tinyproxy (Debian package, installed by .ci/run) started here with its own config.
// Origins are named `localhost` so the proxy, not Breakwater, resolves them.
let dir: string;
let proxy: ChildProcess | undefined;
let proxyPort: number;
let pki: TestPki;
let plainOrigin: string;
let tlsOrigin: string;
const servers: net.Server[] = [];

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const echo = (req: http.IncomingMessage, res: http.ServerResponse) =>
  res.end(JSON.stringify({ via: req.headers.via ?? null, host: req.headers.host, url: req.url }));

beforeAll(async () => {
  pki = makeTestPki();
  const plain = http.createServer(echo);
  const secure = https.createServer(pki.server, echo);
  servers.push(plain, secure);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  plainOrigin = `http://localhost:${(plain.address() as AddressInfo).port}`;
  tlsOrigin = `https://localhost:${(secure.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'bw-tinyproxy-'));
  proxyPort = await freePort();
  writeFileSync(
    join(dir, 'tinyproxy.conf'),
    [
      `Port ${proxyPort}`,
      'Listen 127.0.0.1',
      'Allow 127.0.0.1',
      'Timeout 30',
      `PidFile "${dir}/pid"`,
      `LogFile "${dir}/log"`,
      'LogLevel Info',
      'MaxClients 20',
      '',
    ].join('\n'),
  );
  proxy = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) =>
      net
        .connect(proxyPort, '127.0.0.1')
        .once('connect', function (this: net.Socket) {
          this.destroy();
          r(true);
        })
        .once('error', () => r(false)),
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);

afterAll(async () => {
  proxy?.kill('SIGTERM');
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  pki?.remove();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function call(options: Parameters<typeof createClient>[0], url: string) {
  const client = createClient({ attempts: 1, ...options });
  try {
    const res = await client.request(url);
    return {
      layers: client.layers.map((l) => l.role),
      status: res.statusCode,
      body: (await res.body.json()) as { via: string | null; host: string; url: string },
    };
  } catch (error) {
    return { layers: client.layers.map((l) => l.role), error: error as Record<string, unknown> };
  } finally {
    await client.close();
  }
}

describe('createClient({ proxy }) through a real tinyproxy', () => {
  it('HTTP: the request goes through the proxy (Via: tinyproxy), the layers above keep working, dns/balance are left out', async () => {
    const r = await call({ proxy: `http://127.0.0.1:${proxyPort}` }, `${plainOrigin}/a`);
    expect(r.error).toBeUndefined();
    expect(r.body?.via).toMatch(/tinyproxy/);
    expect(r.body?.host).toBe(new URL(plainOrigin).host);
    expect(r.layers).toEqual(['deadline', 'retry', 'circuit']);
  });

  it('HTTPS via CONNECT, with `tls.ca` applied to the origin (not the proxy)', async () => {
    const r = await call({ proxy: `http://127.0.0.1:${proxyPort}`, tls: { ca: pki.ca.cert } }, `${tlsOrigin}/b`);
    expect(r.error).toBeUndefined();
    expect(r.body).toMatchObject({ via: null, url: '/b' }); // a tunnel: the proxy never sees the request
    expect(readFileSync(join(dir, 'log'), 'utf8')).toMatch(/CONNECT localhost:\d+/);
    // The origin's certificate is still checked through the tunnel.
    const unverified = await call({ proxy: `http://127.0.0.1:${proxyPort}` }, `${tlsOrigin}/b`);
    expect(unverified.error).toMatchObject({ code: 'BW_ERR_TLS', details: { tlsProblem: 'unknown-ca' } });
  });

  it("'env': HTTP_PROXY/HTTPS_PROXY are used, and NO_PROXY bypasses the proxy for its hosts", async () => {
    const saved = { ...process.env };
    try {
      process.env.HTTP_PROXY = `http://127.0.0.1:${proxyPort}`;
      process.env.HTTPS_PROXY = `http://127.0.0.1:${proxyPort}`;
      delete process.env.http_proxy;
      delete process.env.https_proxy;
      process.env.NO_PROXY = '';
      const proxied = await call({ proxy: 'env' }, `${plainOrigin}/c`);
      expect(proxied.body?.via).toMatch(/tinyproxy/);
      process.env.NO_PROXY = 'localhost';
      const bypassed = await call({ proxy: 'env' }, `${plainOrigin}/d`);
      expect(bypassed.error).toBeUndefined();
      expect(bypassed.body?.via).toBeNull();
      const tls = await call({ proxy: 'env', tls: { ca: pki.ca.cert } }, `${tlsOrigin}/e`);
      expect(tls.error).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });

  it('proxy down: BW_ERR_PROXY naming the proxy, never its password', async () => {
    const dead = await freePort();
    const r = await call({ proxy: `http://user:s3cret@127.0.0.1:${dead}` }, `${tlsOrigin}/f`);
    expect(r.error).toMatchObject({ code: 'BW_ERR_PROXY', details: { proxy: `http://127.0.0.1:${dead}`, errno: 'ECONNREFUSED' } });
    expect(String(r.error?.message)).toContain(`127.0.0.1:${dead}`);
    expect(JSON.stringify(r.error)).not.toContain('s3cret');
    expect(String(r.error?.message)).not.toContain('s3cret');
  });

  it('naive: without `proxy` the same env is ignored (the issue), the request goes direct', async () => {
    const saved = { ...process.env };
    try {
      process.env.HTTP_PROXY = `http://127.0.0.1:${proxyPort}`;
      const r = await call({}, `${plainOrigin}/g`);
      expect(r.body?.via).toBeNull();
    } finally {
      process.env = saved;
    }
  });

  it('bad proxy options name the key and hide credentials', () => {
    expect(() => createClient({ proxy: 'ftp://u:pw@proxy:21' })).toThrow(/`proxy` to be an http:\/\/ or https:\/\/ proxy URL.*got a ftp: URL/);
    expect(() => createClient({ proxy: 'not a url' })).toThrow(/got a string that is not a URL/);
    expect(() => createClient({ proxy: { uri: 'http://p:3128', tokn: 'x' } as never })).toThrow(/`proxy.tokn`/);
  });
});
