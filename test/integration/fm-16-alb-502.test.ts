import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { hardenServer } from '../../packages/presets/src/index.js';
import { FM16_SERVER_TIMEOUT_MS, fm16, fm16Preset } from '../../packages/scorecard/src/scenarios/fm-16.js';
import { haproxyBinary } from '../support/haproxy.js';
import { reportResult } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';

// FM-16, the ALB 502: a load balancer reuses an idle keep-alive connection to
// a server that is closing it. The scorecard's scenario builds it: client →
// HAProxy (`http-reuse always`, one thread) → chaos proxy (400 ms latency on
// the LB↔server hop) → Node http server, requests spaced to land HAProxy's
// reused request just after the naive server's idle close (Node's default
// keepAliveTimeout, 5 s + Node 24's 1 s buffer), against the same server
// after hardenServer() with the haproxy preset told this HAProxy's timeouts.
// This file runs it and checks the preset's number on its own.

const binary = haproxyBinary();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (binary === undefined && !required) console.log('[FM-16] skipped: no haproxy binary on PATH or in /usr/sbin (apt-get install haproxy)');

describe.skipIf(binary === undefined && !required)('FM-16: stale keep-alive behind a load balancer (the ALB 502)', () => {
  it('the preset keeps a server idle 5 s past HAProxy’s idle server connections', () => {
    const server = http.createServer();
    hardenServer(server, fm16Preset());
    expect(server.keepAliveTimeout).toBe(FM16_SERVER_TIMEOUT_MS + 5_000);
  });

  it('Node’s default keep-alive behind HAProxy gives 502s; hardenServer() above the LB idle gives none', async () => {
    expect(binary, 'BREAKWATER_REQUIRE_NETNS=1: haproxy must be installed (apt-get install haproxy)').toBeDefined();
    const result = await scenarioResult(fm16);
    reportResult({ fm: 'FM-16', side: 'naive', metric: 'failed requests', value: result.naive.value, unit: 'requests' }, result.naive.text);
    reportResult({ fm: 'FM-16', side: 'breakwater', metric: 'failed requests', value: result.breakwater.value, unit: 'requests' }, result.breakwater.text);
    expect(result.naive.value, `naive: ${result.naive.text}\n${result.notes?.join('\n')}`).toBeGreaterThanOrEqual(1);
    expect(result.breakwater.value, `hardened: ${result.breakwater.text}\n${result.notes?.join('\n')}`).toBe(0);
    // Healthy twin: a server keeping connections 60 s behind the same HAProxy; requests 1.5 s apart reuse one client connection.
    expect(result.twin, result.twin?.text).toMatchObject({ ok: true });
  }, 60_000);
});
