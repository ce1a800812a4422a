import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CircuitBreaker } from '@breakwater/circuit';
import { createClient } from '@breakwater/http';
import { describe, expect, it } from 'vitest';
import { reuseBelowIdleTwin } from '../../packages/scorecard/src/scenarios/fm-07.js';
import { slowHandlerTwin } from '../../packages/scorecard/src/scenarios/fm-09.js';
import { fastReaderTwin } from '../../packages/scorecard/src/scenarios/fm-10.js';
import { transientFailureTwin } from '../../packages/scorecard/src/scenarios/fm-11.js';
import { oneFailureTwin } from '../../packages/scorecard/src/scenarios/fm-12.js';
import { stableRecordTwin } from '../../packages/scorecard/src/scenarios/fm-13.js';
import { longKeepAliveTwin } from '../../packages/scorecard/src/scenarios/fm-16.js';
import { longLivedTwin } from '../../packages/scorecard/src/scenarios/fm-17.js';
import { haproxyBinary } from '../../packages/scorecard/src/scenarios/transport-support.js';
import { expectTwin, twinRow } from '../support/twins.js';

// Each healthy twin must be able to fail: run with the defaults it passes;
// with a defence made too eager (or too strict) it fails, and through the
// real runner that fails the row with the twin's reason. The scenarios'
// own runs (scorecard-resilience/transport tests) check the defaults again,
// beside the naive and Breakwater sides.

describe('scorecard healthy twins fail when the defence is too eager', () => {
  it('FM-12: one reset among successes keeps a default breaker closed; a breaker opening at 5 % opens and refuses calls', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-12', (ctx) => oneFailureTwin(ctx, (key) => new CircuitBreaker(undefined, { key }))),
      twinRow('FM-12 eager', (ctx) => oneFailureTwin(ctx, (key) => new CircuitBreaker(undefined, { key, errorThresholdPercentage: 5 }))),
    );
    expect(passed).toMatchObject({ value: 0, ok: true });
    expect(hurt.value).toBeGreaterThan(0);
    expect(hurt.text).toMatch(/^breaker opened 1× on 1 failure/);
  }, 30_000);

  it('FM-11: one transient 503 is retried once with the defaults; a client that never retries surfaces it', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-11', (ctx) => transientFailureTwin(ctx, () => createClient())),
      twinRow('FM-11 strict', (ctx) => transientFailureTwin(ctx, () => createClient({ attempts: 1 }))),
    );
    expect(passed).toMatchObject({ value: 2, text: 'one 503, retried once: 200' });
    expect(hurt).toMatchObject({ value: 1, text: 'one 503, then 503 after 1 request(s) upstream', ok: false });
  }, 30_000);

  it('FM-07: a connection reused just below the LB idle limit is kept by the defaults; a client closing idle connections after 200 ms opens one per request', async () => {
    const backend = http.createServer((_req, res) => res.end('ok'));
    backend.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = backend.address() as AddressInfo;
      const { passed, hurt } = await expectTwin(
        twinRow('FM-07', (ctx) => reuseBelowIdleTwin(ctx, port, () => createClient())),
        twinRow('FM-07 eager', (ctx) => reuseBelowIdleTwin(ctx, port, () => createClient({ keepAliveTimeoutMs: 200 }))),
      );
      expect(passed).toMatchObject({ value: 1, text: '8/8 ok 350 ms apart over 1 connection' });
      expect(hurt.value).toBeGreaterThan(1);
    } finally {
      backend.closeAllConnections();
      backend.close();
    }
  }, 30_000);

  it('FM-13: a stable record is re-resolved about once per TTL by the defaults; a client that caches nothing (dnsMaxTtlMs 0) asks per request', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-13', (ctx) => stableRecordTwin(ctx, (dns) => createClient({ dnsServers: [dns] }))),
      twinRow('FM-13 eager', (ctx) => stableRecordTwin(ctx, (dns) => createClient({ dnsServers: [dns], dnsMaxTtlMs: 0 }))),
    );
    expect(passed.value).toBeLessThanOrEqual(4);
    expect(hurt.value).toBeGreaterThanOrEqual(30);
  }, 30_000);

  it('FM-10: a fast reader gets every message without a wait by the defaults; a 256 KiB bound that rejects refuses healthy sends', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-10', (ctx) => fastReaderTwin(ctx, {})),
      twinRow('FM-10 eager', (ctx) => fastReaderTwin(ctx, { maxBufferedBytes: 256 * 1024, overflowPolicy: 'reject' })),
    );
    expect(passed).toMatchObject({ value: 0, text: '128/128 × 64 KB acked, 0 waited for room' });
    expect(hurt.value).toBeGreaterThan(0);
    expect(hurt.text).toMatch(/BW_ERR_BACKPRESSURE/);
  }, 30_000);

  it('FM-09: a handler blocking its server 2.5 s is waited for by the defaults; a 0.5 s + 0.5 s heartbeat fails over from a busy server', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-09', (ctx) => slowHandlerTwin(ctx)),
      twinRow('FM-09 eager', (ctx) => slowHandlerTwin(ctx, { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 500 })),
    );
    expect(passed).toMatchObject({ value: 0, text: 'acked by the busy server after its 2.5 s handler; 0 disconnects' });
    expect(hurt.value).toBeGreaterThan(0);
  }, 30_000);

  it('FM-17: connections a healthy server keeps open stay pooled through 1.5 s idle gaps by the defaults; a 500 ms idle reaper closes and reopens them', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-17', (ctx) => longLivedTwin(ctx, {})),
      twinRow('FM-17 eager', (ctx) => longLivedTwin(ctx, { idleTimeoutMs: 500 })),
    );
    expect(passed).toMatchObject({ value: 0, text: '10 connections idle 2 × 1.5 s: 30/30 answered, 0 reopened; the server saw 10' });
    expect(hurt.value).toBeGreaterThanOrEqual(10);
    expect(hurt.text).toMatch(/evicted: idle ×\d+/);
  }, 30_000);

  const haproxy = haproxyBinary();
  it.skipIf(haproxy === undefined && process.env.BREAKWATER_REQUIRE_NETNS !== '1')(
    'FM-16: requests 1.5 s apart to a server keeping connections 60 s reuse one client connection by the defaults; a client idle of 500 ms reconnects per request',
    async () => {
      expect(haproxy, 'BREAKWATER_REQUIRE_NETNS=1: haproxy must be installed (apt-get install haproxy)').toBeDefined();
      const { passed, hurt } = await expectTwin(
        twinRow('FM-16', (ctx) => longKeepAliveTwin(ctx, haproxy!, () => createClient())),
        twinRow('FM-16 eager', (ctx) => longKeepAliveTwin(ctx, haproxy!, () => createClient({ keepAliveTimeoutMs: 500 }))),
      );
      expect(passed).toMatchObject({ value: 1, text: '6/6 ok 1.5 s apart over 1 client connection; the server answered 6 on 1' });
      expect(hurt.value).toBeGreaterThanOrEqual(5);
    },
    40_000,
  );
});
