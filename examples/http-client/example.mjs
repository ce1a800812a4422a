// @breakwater/http where a service used fetch or undici: the same request()/fetch() calls, plus a deadline
// per request, retries of idempotent requests (within a budget), and errors with a stable code and a hint.
// Self-contained: it starts its own "inventory" service on 127.0.0.1 and talks to nothing else.
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import net from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { createClient } from '@breakwater/http';

// The upstream: /items/7 fails once with 503 (a deploy, a restarting replica), /orders accepts a POST,
// /slow never answers in time.
let itemCalls = 0;
const upstream = http.createServer((req, res) => {
  if (req.url === '/items/7') {
    itemCalls++;
    if (itemCalls === 1) return res.writeHead(503).end('warming up');
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 7, stock: 12 }));
  }
  if (req.url === '/orders' && req.method === 'POST') {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: JSON.parse(body) })));
    return;
  }
  if (req.url === '/slow') return; // never answers: the deadline has to end it
  res.writeHead(404).end();
});
await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${upstream.address().port}`;

// A port nobody listens on: take a free one and give it back.
const closedPort = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

// Every retry decision is published on diagnostics_channel (breakwater:retry:retried, the same for retry()
// and this client: `source` says which); a service would count them. `error` is the response ({ status })
// or the error that made the layer retry.
const onRetried = ({ source, attempt, delayMs, error }) => {
  if (source === 'http')
    console.log(`  retry: attempt ${attempt} in ${Math.round(delayMs)} ms after ${error.status ? `HTTP ${error.status}` : (error.code ?? error.message)}`);
};
diagnostics.subscribe('breakwater:retry:retried', onRetried);

// One client per service, created once: it owns the connection pool, the retry budget and the breakers.
const client = createClient({ deadlineMs: 2_000, baseDelayMs: 20, maxDelayMs: 100 });

async function show(label, call) {
  const started = performance.now();
  try {
    const out = await call();
    console.log(`${label} -> ${out} in ${Math.round(performance.now() - started)} ms`);
  } catch (err) {
    if (!(err instanceof BreakwaterError)) throw err;
    // Match on err.code, never on the message: the codes are the contract (docs/errors.md).
    console.log(`${label} -> ${err.code} after ${Math.round(performance.now() - started)} ms, retryable=${err.retryable}, attempts=${err.details?.attempts}`);
    console.log(`  hint: ${err.hint}`);
  }
}

try {
  // GET is idempotent: the 503 is retried with jittered backoff, the caller only sees the 200.
  await show('GET /items/7', async () => {
    const { statusCode, body } = await client.request(`${base}/items/7`);
    return `${statusCode} ${JSON.stringify(await body.json())} (the server saw ${itemCalls} requests)`;
  });

  // POST is not retried unless it carries an Idempotency-Key (or the client sets idempotencyKey: true).
  await show('POST /orders', async () => {
    const { statusCode, body } = await client.request(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: 7, quantity: 2 }),
    });
    return `${statusCode} ${JSON.stringify(await body.json())}`;
  });

  // The WHATWG fetch() shape works too (undici 8's own fetch, not Node's global one).
  await show('fetch GET /items/7', async () => {
    const res = await client.fetch(`${base}/items/7`);
    return `${res.status} ${JSON.stringify(await res.json())}`;
  });

  // A per-request deadline: every attempt and every backoff sleep must fit in 300 ms.
  await show('GET /slow (deadline 300 ms)', () => client.request(`${base}/slow`, { deadlineMs: 300 }).then((r) => r.statusCode));

  // Nothing listens: the connection error is classified into a typed error, retried, then given up.
  await show(`GET 127.0.0.1:${closedPort} (nothing listens)`, () => client.request(`http://127.0.0.1:${closedPort}/`).then((r) => r.statusCode));
} finally {
  diagnostics.unsubscribe('breakwater:retry:retried', onRetried);
  await client.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
}
