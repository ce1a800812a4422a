/**
 * Child process for issue-20-crash.test.ts: every error path undici reports before a request starts,
 * through createClient(). It prints one JSON line per case and exits 0; an uncaught error or unhandled
 * rejection (no handler is installed on purpose) kills it, which the parent sees.
 *
 * argv[2] === 'naive': a user layer that reads `controller.aborted` on error, as the balance layer did,
 * is added to the stack; the parent asserts that this one dies (the harness can see a crash).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
// The built package (tsc -b runs before the tests): Node's type stripping cannot load every source file.
import { createClient } from '../../../packages/http/dist/index.js';

const naive = process.argv[2] === 'naive';
const [closedPort, certFile, keyFile] = process.argv.slice(3);
const { readFileSync } = await import('node:fs');

const client = createClient({
  baseDelayMs: 1,
  maxDelayMs: 2,
  layers: (d) =>
    naive
      ? [
          ...d,
          {
            role: 'naive',
            description: 'reads controller.aborted on error, as the old balance layer did',
            interceptor: (dispatch) => (opts, handler) =>
              dispatch(opts, {
                ...handler,
                onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
                onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
                onResponseData: (c, d) => handler.onResponseData?.(c, d),
                onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
                onResponseError: (c, e) => handler.onResponseError?.(c, c.aborted ? e : e),
              }),
          },
        ]
      : d,
});

const tls = https.createServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) }, (_req, res) => res.end('secret'));
await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
const tlsPort = (tls.address() as AddressInfo).port;
const plain = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
const port = (plain.address() as AddressInfo).port;

const cases: [string, () => Promise<unknown>][] = [
  ['refused by name', () => client.request(`http://localhost:${closedPort}/`)],
  ['refused by address', () => client.request(`http://127.0.0.1:${closedPort}/`)],
  ['refused by name (fetch)', () => client.fetch(`http://localhost:${closedPort}/`)],
  ['TLS failure (self-signed)', () => client.request(`https://localhost:${tlsPort}/`)],
  // Hostile review: more peers and inputs that fail before a response.
  ['TLS to a plain-HTTP port', () => client.request(`https://localhost:${port}/`)],
  ['DNS failure', () => client.request('http://no-such-host.invalid/')],
  ['DNS failure (fetch)', () => client.fetch('http://no-such-host.invalid/')],
  ['invalid URL', () => client.request('http://exa mple.com:99999/')],
  ['invalid header (CRLF, fetch)', () => client.fetch(`http://localhost:${port}/`, { headers: [['x-bad', 'a\r\nb']] })],
  ['invalid header (CRLF)', () => client.request(`http://localhost:${port}/`, { headers: { 'x-bad': 'a\r\nb' } })],
  ['invalid connection header', () => client.request(`http://localhost:${port}/`, { headers: { connection: 'keep alive' } })],
  ['invalid option to an unknown name', () => client.request('http://no-such-host.invalid/', { reset: 'yes' as unknown as boolean })],
  ['aborted before the call', () => client.request(`http://localhost:${port}/`, { signal: AbortSignal.abort(new Error('custom reason')) })],
  [
    'aborted before connect',
    () => {
      const ac = new AbortController();
      const p = client.request(`https://localhost:${tlsPort}/`, { signal: ac.signal });
      ac.abort(new Error('custom reason'));
      return p;
    },
  ],
];

for (const [name, run] of cases) {
  try {
    await run();
    console.log(JSON.stringify({ name, rejected: false }));
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string; cause?: { code?: string } } };
    console.log(
      JSON.stringify({
        name,
        rejected: true,
        type: e.constructor.name,
        code: e.code,
        message: e.message,
        cause: e.cause?.code ?? e.cause?.message,
        causeCause: e.cause?.cause?.code,
      }),
    );
  }
}
await client.close();
tls.close();
plain.close();
