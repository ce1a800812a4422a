import { describe, expect, it } from 'vitest';
import { DC_02 } from '../../packages/scorecard/src/scenarios/dc-02.js';
import { fm04 } from '../../packages/scorecard/src/scenarios/fm-04.js';
import { fm09Scenario } from '../../packages/scorecard/src/scenarios/fm-09.js';
import { fm10Scenario } from '../../packages/scorecard/src/scenarios/fm-10.js';
import { FM_11 } from '../../packages/scorecard/src/scenarios/fm-11.js';
import { fm13 } from '../../packages/scorecard/src/scenarios/fm-13.js';
import { FM_14 } from '../../packages/scorecard/src/scenarios/fm-14.js';
import { fm15 } from '../../packages/scorecard/src/scenarios/fm-15.js';
import { fm17 } from '../../packages/scorecard/src/scenarios/fm-17.js';
import { runScenario } from '../support/scenario.js';

// Rows run with a user's config (as `breakwater scorecard --config` does):
// the healthy twin takes the user's options too, and a row that fails on an
// option says which.

describe('scorecard rows under a user config', () => {
  it('FM-09: a 0.5 s + 0.5 s heartbeat fails over from the busy server in the twin, naming the options', async () => {
    const run = await runScenario(fm09Scenario(), { config: { ack: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 500 } } });
    console.log(`[FM-09 config] twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.twin?.ok).toBe(false);
    expect(run.result?.twin?.text).toMatch(/: heartbeatIntervalMs 500, heartbeatTimeoutMs 500 \(your options\)$/);
  }, 60_000);

  it('FM-10: a 256 KiB rejecting buffer refuses the fast reader (twin, option named) but holds its RSS bound', async () => {
    const run = await runScenario(fm10Scenario(), { config: { ack: { maxBufferedBytes: 262_144, overflowPolicy: 'reject' } } });
    console.log(`[FM-10 config] breakwater: ${run.result?.breakwater.text} | twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.twin?.ok).toBe(false);
    expect(run.result?.twin?.text).toMatch(/: maxBufferedBytes 262144, overflowPolicy reject \(your options\)$/);
    // The RSS allowance is not shrunk by a stricter buffer: the ~20 MB of heap does not depend on it.
    expect(run.result?.breakwater.ok).toBe(true);
  }, 60_000);

  it('FM-11: a stack without circuit and balance storms, naming the roles it lacks; without retry the twin names them too', async () => {
    const layers = (d: { role: string }[]) => d.filter((l) => l.role !== 'circuit' && l.role !== 'balance');
    const run = await runScenario(FM_11, { config: { http: { layers } } as never });
    console.log(`[FM-11 config] breakwater: ${run.result?.breakwater.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok).toBe(false);
    expect(run.result?.breakwater.text).toMatch(/: layers \(your stack, without circuit, balance\)/);
    const noRetry = await runScenario(FM_11, { config: { http: { layers: (d: { role: string }[]) => d.filter((l) => l.role !== 'retry') } } as never });
    console.log(`[FM-11 config] twin without retry: ${noRetry.result?.twin?.text}`);
    expect(noRetry.result?.twin?.ok).toBe(false);
    expect(noRetry.result?.twin?.text).toMatch(/: layers \(your stack, without retry\)/);
  }, 60_000);

  it('FM-14: a stack without its balancer sends the slow replica its share, naming the role it lacks', async () => {
    const layers = (d: { role: string }[]) => d.filter((l) => l.role !== 'circuit' && l.role !== 'balance');
    const run = await runScenario(FM_14, { config: { http: { layers } } as never });
    console.log(`[FM-14 config] breakwater: ${run.result?.breakwater.text} | twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok).toBe(false);
    expect(run.result?.breakwater.text).toMatch(/: layers \(your stack, without circuit, balance\)$/);
  }, 60_000);

  it('DC-02: a 1 ms deadline refusing before the server saw the PUT is not counted as holding (deadlineMs named); the 10 MB twin fails on it', async () => {
    const run = await runScenario(DC_02, { config: { http: { deadlineMs: 1 } } });
    console.log(`[DC-02 config] breakwater: ${run.result?.breakwater.text} | twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    // Which comes first is the host's: the 1 ms timer, or the 48 KiB PUT written on loopback (seen in CI on
    // Node 22: sent whole, reset, the retry refused by the deadline). Both are judged by what the server saw.
    const { ok, text } = run.result!.breakwater;
    if (ok) expect(text).toMatch(/: nothing wrong accepted; sent 49,152 B$/);
    else expect(text).toMatch(/before the server saw the body; sent .*: deadlineMs 1 \(your option\)$/);
    // 10 MB streamed with a pause each MiB cannot go out in 1 ms.
    expect(run.result?.twin?.ok).toBe(false);
    expect(run.result?.twin?.text).toMatch(/deadlineMs 1 \(your option\)$/);
  }, 60_000);

  it('FM-15: a wall-clock socket.clock fails within the budget, naming socket.clock', async () => {
    const clock = {
      now: () => Date.now(),
      setTimeout: (cb: () => void, ms: number) => setTimeout(cb, ms),
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const run = await runScenario(fm15, { config: { socket: { clock } } });
    console.log(`[FM-15 config] breakwater: ${run.result?.breakwater.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok).toBe(false);
    expect(run.result?.breakwater.text).toMatch(/: a timer on socket\.clock \(your option\) fired \d+ ms (late|early)$/);
  }, 60_000);

  it('FM-15: a socket.clock whose timers fire 400 ms late is reported as late by what was measured; the twin names socket.clock', async () => {
    const clock = {
      now: () => performance.now(),
      setTimeout: (cb: () => void, ms: number) => setTimeout(cb, ms + 400),
      clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout),
    };
    const run = await runScenario(fm15, { config: { socket: { clock } } });
    console.log(`[FM-15 late clock] breakwater: ${run.result?.breakwater.text} | twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok).toBe(false);
    expect(run.result?.breakwater.text).toMatch(/: a timer on socket\.clock \(your option\) fired (3\d\d|[4-9]\d\d) ms late$/);
    expect(run.result?.twin?.ok).toBe(false);
    expect(run.result?.twin?.text).toMatch(/: socket\.clock … \(your option\)$/);
  }, 60_000);

  it('FM-04: noDelay false runs one round and fails naming the option, within the budget', async () => {
    const run = await runScenario(fm04, { config: { socket: { noDelay: false } } });
    console.log(`[FM-04 noDelay false] ${run.durationMs.toFixed(0)} ms, breakwater: ${run.result?.breakwater.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok).toBe(false);
    expect(run.result?.breakwater.text).toMatch(/: noDelay false → every two-write exchange waits for a delayed ACK \(p50 \d+\.\d ms\), bound 2 ms$/);
    expect(run.result?.notes?.[0]).toMatch(/best of 1 round \(/);
    // The note says what is applied: not TCP_NODELAY with the user's noDelay false.
    expect(run.result?.notes?.[0]).toContain('connect() with your options (noDelay false) (noDelay false: Nagle on, TCP_NODELAY not set)');
  }, 60_000);

  it("FM-13: a user resolve does not replace the scenario's DNS server; a note says http.resolve was not applied", async () => {
    const resolve = async (hostname: string): Promise<never> => {
      throw Object.assign(new Error(`name not found (${hostname})`), { code: 'ENOTFOUND' });
    };
    const run = await runScenario(fm13, { config: { http: { resolve } } });
    console.log(`[FM-13 resolve] breakwater: ${run.result?.breakwater.text} | error: ${String(run.error)}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.breakwater.ok, run.result?.breakwater.text).toBe(true);
    expect(run.result?.notes).toContainEqual(expect.stringMatching(/^not applied: http\.resolve \(your option\): it would replace the scenario's DNS server/));
  }, 60_000);

  it("FM-17: a valid pool with minIdle above the row's 10 connections runs, minIdle capped and said in the notes", async () => {
    const run = await runScenario(fm17, { config: { pool: { max: 100, minIdle: 50 } } });
    console.log(`[FM-17 config] breakwater: ${run.result?.breakwater.text} | twin: ${run.result?.twin?.text}`);
    expect(run.error).toBeUndefined();
    expect(run.result?.notes).toContain("pool.minIdle 50 (your option) capped at the row's 10 connections");
    // The capped minIdle reopens the connections the server closed: the pool is not empty, and the row says why.
    expect(run.result?.breakwater.text).toMatch(/, pool size \d+: minIdle 50 \(your option\)$/);
  }, 60_000);
});
