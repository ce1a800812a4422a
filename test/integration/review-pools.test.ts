import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createClient } from '@breakwater/http';
import { WebSocket } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentHttpTracing } from '../../packages/http/src/otel.js';
import { makeSelfSigned } from '../support/tlsCerts.js';

// Review of issue #16 (names resolved in the connect step, OriginPools in place of undici's Agent):
// attacks that held, kept as regressions.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Tracer with the API's shape that keeps each span's name, attributes and whether it ended. */
function fakeTracer() {
  const spans: { ended: boolean; attrs: Record<string, unknown> }[] = [];
  const tracer = {
    startSpan(_name: string, o: { attributes: Record<string, unknown> }) {
      const s = { ended: false, attrs: { ...o.attributes } };
      spans.push(s);
      const span = {
        setAttribute: (k: string, v: unknown) => {
          s.attrs[k] = v;
          return span;
        },
        recordException: () => {},
        setStatus: () => span,
        addEvent: () => span,
        end: () => {
          s.ended = true;
        },
      };
      return span;
    },
  } as unknown as Parameters<typeof instrumentHttpTracing>[0];
  return { tracer, spans };
}

describe('issue #16 review: OriginPools and the connect-step resolution', () => {
  it('Host and TLS SNI are the name on every request of a pool pinned to an address', async () => {
    const cert = makeSelfSigned('svc.test');
    cleanups.push(() => cert.remove());
    const seen: string[] = [];
    const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      seen.push(`${(req.socket as TLSSocket).servername} ${req.headers.host}`);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    cleanups.push(() => server.closeAllConnections());
    const port = (server.address() as AddressInfo).port;
    const client = createClient({ attempts: 1, tls: { ca: cert.cert }, resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
    cleanups.push(() => client.close());
    // The first request resolves in the connect step; the next ones go to the pool pinned to 127.0.0.1.
    for (let i = 0; i < 3; i++) await (await client.request(`https://svc.test:${port}/`)).body.dump();
    expect(seen).toEqual(Array(3).fill(`svc.test svc.test:${port}`));
  });

  it('a request aborted while its name is still resolving ends its span, with error.type', async () => {
    const { tracer, spans } = fakeTracer();
    cleanups.push(instrumentHttpTracing(tracer));
    const client = createClient({ attempts: 1, connectTimeoutMs: 200, resolve: () => new Promise(() => {}) });
    cleanups.push(() => client.close());
    const ac = new AbortController();
    const pending = client.request('http://never.test/', { signal: ac.signal }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ ended: true, attrs: { 'error.type': 'AbortError', 'server.address': 'never.test' } });
  });

  it('after close(), a client that used 22 origins through 3 pools leaves no socket open and its process exits', async () => {
    const child = fileURLToPath(new URL('./review-pools/exit-child.ts', import.meta.url));
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [child], { timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
      ),
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const r = JSON.parse(out.stdout) as { hosts: string[]; open: number };
    expect(r.hosts).toHaveLength(22);
    expect(r.hosts[0]).toMatch(/^n0\.test:\d+$/);
    expect(r.open).toBe(0);
  });

  it("undici's WebSocket on client.dispatcher: the handshake carries the name, first resolved then pinned", async () => {
    const server = http.createServer();
    const hosts: string[] = [];
    const upgraded: { destroy(): void }[] = [];
    server.on('upgrade', (req, socket) => {
      hosts.push(String(req.headers.host));
      upgraded.push(socket);
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])); // a text frame: "hi"
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    // closeAllConnections() does not know upgraded sockets.
    cleanups.push(() => {
      for (const s of upgraded) s.destroy();
    });
    const port = (server.address() as AddressInfo).port;
    const client = createClient({ resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
    cleanups.push(() => client.close());
    for (let i = 0; i < 2; i++) {
      const ws = new WebSocket(`ws://svc.test:${port}/`, { dispatcher: client.dispatcher });
      const message = await new Promise((resolve, reject) => {
        ws.onmessage = (e) => resolve(e.data);
        ws.onerror = () => reject(new Error('WebSocket error'));
      });
      expect(message).toBe('hi');
      ws.close();
    }
    expect(hosts).toEqual([`svc.test:${port}`, `svc.test:${port}`]);
  });
});
