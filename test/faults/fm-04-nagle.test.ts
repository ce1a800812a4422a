import { connect, writeMessage } from '@breakwater/socket';
import { describe, expect, it, onTestFinished } from 'vitest';
import { bestRound, exchanges, fm04, messageServer, naiveSocket } from '../../packages/scorecard/src/scenarios/fm-04.js';
import { listen, percentile } from '../../packages/scorecard/src/scenarios/transport-support.js';
import { reportResult } from '../support/report.js';
import { scenarioContext, scenarioResult } from '../support/scenario.js';

/**
 * FM-04, Nagle + delayed ACK, on plain loopback (no root needed, so this file
 * always runs). The scorecard's scenario measures both sides: naive p50
 * ≥ 40 ms (a delayed ACK per two-write exchange), Breakwater's connect()
 * p99 < 2 ms. This file adds the controls: `setNoDelay(true)` alone fixes it,
 * and `writeMessage(header, body)` (one write) is as fast on a Breakwater socket.
 */

const NO_DELAY_P99_BOUND_MS = 10;
const QUIET_P99_MS = 2;

async function loopback() {
  const ctx = scenarioContext();
  onTestFinished(() => ctx.cleanup());
  return { ctx, port: await listen(ctx, messageServer()) };
}

describe('FM-04 Nagle + delayed ACK (loopback)', () => {
  it('the scenario: two writes per message wait for the delayed ACK on net.connect(), not on connect()', async () => {
    const result = await scenarioResult(fm04);
    reportResult({ fm: 'FM-04', side: 'naive', metric: 'p50', value: result.naive.value, unit: 'ms' }, result.naive.text);
    reportResult({ fm: 'FM-04', side: 'breakwater', metric: 'p99', value: result.breakwater.value, unit: 'ms' }, result.breakwater.text);
    expect(result.naive.ok, result.naive.text).toBe(true);
    expect(result.naive.value).toBeGreaterThanOrEqual(35);
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    expect(result.breakwater.value).toBeLessThan(QUIET_P99_MS);
    // Healthy twin: 1 MB messages gain nothing from Nagle and lose nothing without it.
    reportResult({ fm: 'FM-04', side: 'breakwater', metric: 'twin p50 ratio (1 MB)', value: result.twin!.value, unit: '×' }, result.twin!.text);
    expect(result.twin?.ok, result.twin?.text).toBe(true);
  });

  it('control: setNoDelay(true) on a plain socket is enough', async () => {
    const { ctx, port } = await loopback();
    const { times, rounds } = await bestRound(ctx, async () => (await naiveSocket(port)).setNoDelay(true));
    const p99 = percentile(times, 99);
    reportResult(
      { fm: 'FM-04', side: 'control', metric: 'p99', value: Number(p99.toFixed(2)), unit: 'ms' },
      `setNoDelay(true): p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms per exchange (best of ${rounds} round${rounds === 1 ? '' : 's'})`,
    );
    expect(p99).toBeLessThan(NO_DELAY_P99_BOUND_MS);
  });

  it('breakwater: writeMessage(header, body) on a connect() socket answers with p99 < 2 ms', async () => {
    const { ctx, port } = await loopback();
    const { times, rounds } = await bestRound(
      ctx,
      () => connect({ host: '127.0.0.1', port }),
      (socket, header, body) => writeMessage(socket, header, body),
    );
    const p99 = percentile(times, 99);
    reportResult(
      { fm: 'FM-04', side: 'breakwater', metric: 'p99 writeMessage', value: Number(p99.toFixed(3)), unit: 'ms' },
      `writeMessage(header, body): p50 ${percentile(times, 50).toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (best of ${rounds})`,
    );
    expect(p99).toBeLessThan(QUIET_P99_MS);
    // Nagle on, the same exchanges wait for the delayed ACK: the writer is not what makes them fast.
    const naive = await exchanges(ctx, await naiveSocket(port), 20);
    expect(percentile(naive, 50)).toBeGreaterThanOrEqual(35);
  });
});
