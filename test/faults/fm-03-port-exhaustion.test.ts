import { expect, it } from 'vitest';
import { type Fm03Counts, fm03 } from '../../packages/scorecard/src/scenarios/fm-03.js';
import { describeNetns } from '../support/netns.js';
import { reportResult } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';

/**
 * FM-03, ephemeral port exhaustion: a connection per request where the client
 * closes first leaves each client port in TIME_WAIT for 60 s. The scorecard's
 * scenario cuts the client namespace's range to 100 ports (40000–40099), runs
 * 2,000 requests through @breakwater/pool (0 errors), then 400 with a
 * connection each (EADDRNOTAVAIL). This file runs it with the pool's `max` at
 * 10 and adds, in the same namespace: a control of 400 requests over one
 * reused connection before the naive side (it ends with a reset, so its port
 * does not linger), and afterwards a fresh pool, which gets
 * BW_ERR_PORTS_EXHAUSTED with the FM-03 hint instead of a bare errno.
 * Beside the pooled run, the scenario's healthy twin sends a burst of 40
 * requests at once (150 ms each at the backend) through a second pool with
 * the default `max` of 10: they queue and all complete.
 */

const PORTS = 100;
const POOL_MAX = 10;
const POOLED = 2_000;
const NAIVE = 400;

describeNetns('FM-03 ephemeral port exhaustion (TIME_WAIT on the client)', () => {
  it('the pool: 2,000 requests with 100 ports, 0 errors; one reused connection: 0 errors; a connection per request runs out', async () => {
    let pooled: Fm03Counts | undefined;
    let twin: Fm03Counts | undefined;
    let reused: Fm03Counts | undefined;
    let naive: Fm03Counts | undefined;
    let after: Fm03Counts | undefined;
    const result = await scenarioResult(
      fm03({
        pooledRequests: POOLED,
        naiveRequests: NAIVE,
        poolMax: POOL_MAX,
        async beforeNaive(lab, counts, burst) {
          pooled = counts;
          twin = burst;
          expect(await lab.topology.client.readSysctl('net.ipv4.ip_local_port_range')).toMatch(/^40000\s+40099$/);
          reused = await lab.requests('reused', NAIVE);
        },
        async afterNaive(lab, counts) {
          naive = counts;
          // Every port is now in TIME_WAIT: a new pool says so, in words.
          after = await lab.pool(1, { mode: 'exhausted' });
        },
      }),
    );
    expect(result.naive.ok, result.naive.text).toBe(true);
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    // The healthy twin: 40 requests at once through its own pool (default max 10) queued and all completed.
    expect(result.twin?.ok, result.twin?.text).toBe(true);
    expect(twin).toMatchObject({ ok: 40, errors: {} });
    expect(twin?.created).toBeLessThanOrEqual(10);

    expect(pooled).toMatchObject({ ok: POOLED, errors: {} });
    expect(pooled?.created).toBeLessThanOrEqual(POOL_MAX);
    expect(reused).toMatchObject({ ok: NAIVE, errors: {} });
    const exhausted = naive?.errors.EADDRNOTAVAIL ?? 0;
    // Without the range limit all 400 would succeed; without TIME_WAIT none would fail. The pool's
    // closed connections hold up to POOL_MAX of the 100 ports in TIME_WAIT already (the twin's went
    // to another server port: a port in TIME_WAIT towards it can still connect to this one).
    const free = PORTS - (pooled?.created ?? 0);
    expect(naive?.ok).toBeGreaterThanOrEqual(free * 0.9);
    expect(naive?.ok).toBeLessThanOrEqual(PORTS);
    expect(exhausted).toBeGreaterThanOrEqual(NAIVE - PORTS);
    expect((naive?.ok ?? 0) + exhausted).toBe(NAIVE);
    expect(after?.errors).toEqual({ BW_ERR_PORTS_EXHAUSTED: 1 });
    expect(after?.hint).toMatch(/FM-03/);

    reportResult(
      { fm: 'FM-03', side: 'control', metric: 'twinErrors', value: result.twin?.value ?? -1, unit: 'requests' },
      `healthy twin, 40 requests at once to a backend taking 150 ms each: ${result.twin?.text}`,
    );
    reportResult(
      { fm: 'FM-03', side: 'control', metric: 'errors', value: 0, unit: 'requests' },
      `${NAIVE} requests over one reused connection: ${reused?.ok} ok, 0 errors (${reused?.elapsedMs} ms)`,
    );
    reportResult(
      { fm: 'FM-03', side: 'naive', metric: 'EADDRNOTAVAIL', value: exhausted, unit: 'requests' },
      `${NAIVE} connection-per-request exchanges with ${PORTS} ports: ${naive?.ok} ok, ${exhausted} EADDRNOTAVAIL (${naive?.elapsedMs} ms)`,
    );
    reportResult(
      { fm: 'FM-03', side: 'breakwater', metric: 'errors', value: 0, unit: 'requests' },
      `${POOLED} requests through @breakwater/pool (max ${POOL_MAX}) with ${PORTS} ports: ${pooled?.ok} ok, 0 errors, ${pooled?.created} connections (${pooled?.elapsedMs} ms); then a new pool: BW_ERR_PORTS_EXHAUSTED`,
    );
  });
});
