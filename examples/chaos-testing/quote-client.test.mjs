// Testing your own code with @breakwater/chaos: a real quote server on 127.0.0.1, the fault proxy in front
// of it, and node:test. Each test switches the proxy's faults, so one proxy serves the whole file.
// Run it with `node quote-client.test.mjs` (or `node --test`); it takes about 2 s.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createFaultProxy } from '@breakwater/chaos';
import { getQuote } from './quote-client.mjs';

const TIMEOUT_MS = 500;
let server;
let proxy;

before(async () => {
  server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (line) => socket.write(`${JSON.stringify({ symbol: String(line).trim(), price: 189.5 })}\n`));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A fixed seed makes every random decision (probabilities, jitter) replay the same way on every run.
  proxy = await createFaultProxy({ target: { port: server.address().port }, seed: 42 });
});
after(async () => {
  await proxy?.close();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => proxy.clearFaults());

const where = () => ({ host: proxy.host, port: proxy.port, timeoutMs: TIMEOUT_MS });

describe('getQuote()', () => {
  it('answers through the proxy when nothing is wrong', async () => {
    assert.deepEqual(await getQuote('AAPL', where()), { symbol: 'AAPL', price: 189.5 });
  });

  it('fails with BW_ERR_STALLED, not a hang, when the peer goes silent (blackhole)', async () => {
    proxy.setFaults([{ type: 'blackhole' }]); // both sockets stay open, every byte is swallowed
    const started = performance.now();
    await assert.rejects(getQuote('AAPL', where()), (err) => {
      assert.equal(err.code, 'BW_ERR_STALLED');
      assert.match(err.hint, /./);
      return true;
    });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= TIMEOUT_MS * 0.9 && elapsed < TIMEOUT_MS * 3, `failed after ${Math.round(elapsed)} ms`);
  });

  it('fails with a retryable BW_ERR_PEER_RESET when the connection is reset', async () => {
    proxy.setFaults([{ type: 'reset', afterBytes: 1, direction: 'upstream' }]); // RST once the request went out
    await assert.rejects(getQuote('AAPL', where()), (err) => {
      assert.equal(err.code, 'BW_ERR_PEER_RESET');
      assert.equal(err.retryable, true);
      return true;
    });
    assert.equal(proxy.stats().faultsApplied.reset, 1);
  });

  it('the same client without a stall timeout would hang: the blackhole is real', async () => {
    proxy.setFaults([{ type: 'blackhole' }]);
    const naive = net.connect(proxy.port, proxy.host);
    naive.on('error', () => {});
    naive.write('AAPL\n');
    const outcome = await Promise.race([
      new Promise((resolve) => naive.once('data', () => resolve('answered'))),
      new Promise((resolve) => naive.once('close', () => resolve('closed'))),
      new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 2, 'still waiting')),
    ]);
    naive.destroy();
    assert.equal(outcome, 'still waiting');
  });
});
