import { describe, expect, it } from 'vitest';
import { DEFAULT_SCORECARD_CONFIG, resolveScorecardConfig } from '../config.js';
import type { Measurement, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, droppedNote, jsonOptions, judgeConfigured, keepAliveBoundMs, keepAliveDetectMs } from './config-support.js';

const keep = { keepAliveIdleMs: 10_000, keepAliveIntervalMs: 1_000, keepAliveCount: 5 };

describe('keepAliveBoundMs: never tighter than the catalogue', () => {
  it('is idle + interval × count for the defaults (the kernel answers at 11 s), the kernel time under a longer user timeout', () => {
    expect(keepAliveBoundMs({ keepAliveIdleMs: 5_000, keepAliveIntervalMs: 2_000, keepAliveCount: 5, userTimeoutMs: 10_000 })).toBe(15_000);
    expect(keepAliveBoundMs({ keepAliveIdleMs: 10_000, keepAliveIntervalMs: 1_000, keepAliveCount: 5, userTimeoutMs: 18_000 })).toBe(18_000);
    expect(keepAliveBoundMs({ keepAliveIdleMs: 0, keepAliveIntervalMs: 1_000, keepAliveCount: 5, userTimeoutMs: 0 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('keepAliveDetectMs (Linux keepalive under TCP_USER_TIMEOUT)', () => {
  it('follows the user timeout to the next probe tick, the count only without one, never with keepalive off', () => {
    expect(keepAliveDetectMs({ ...keep, userTimeoutMs: 18_000 })).toBe(18_000); // measured 17.9 s
    expect(keepAliveDetectMs({ keepAliveIdleMs: 5_000, keepAliveIntervalMs: 2_000, keepAliveCount: 5, userTimeoutMs: 10_000 })).toBe(11_000); // measured 11.2 s
    expect(keepAliveDetectMs({ ...keep, userTimeoutMs: 0 })).toBe(15_000);
    expect(keepAliveDetectMs({ ...keep, userTimeoutMs: 2_000 })).toBe(11_000);
    expect(keepAliveDetectMs({ ...keep, keepAliveIdleMs: 0, userTimeoutMs: 18_000 })).toBe(Number.POSITIVE_INFINITY);
    expect(configuredBound(Number.POSITIVE_INFINITY, 2_000, 20_000, 'keepAliveIdleMs 0', 'x', 'keepalive').defeat).toBe(
      'keepAliveIdleMs 0 → x never (keepalive is off), bound 20 s',
    );
  });
});

describe('blameOptions', () => {
  const failed: Measurement = { value: 1, unit: 'count', text: 'BW_ERR_CONNECT_TIMEOUT after 0.5 s', ok: false };
  const ctx = (config?: object) => ({ config: config === undefined ? DEFAULT_SCORECARD_CONFIG : resolveScorecardConfig(config) }) as ScenarioContext;

  it('names the user options that govern a failed twin, only when the user gave a config', () => {
    const given = ctx({ socket: { connectTimeoutMs: 500 } });
    expect(blameOptions(given, failed, given.config.socket, ['connectTimeoutMs']).text).toBe(
      'BW_ERR_CONNECT_TIMEOUT after 0.5 s: connectTimeoutMs 500 (your option)',
    );
    expect(blameOptions(given, { ...failed, ok: true }, given.config.socket, ['connectTimeoutMs']).text).toBe(failed.text);
    expect(blameOptions(given, failed, given.config.socket, ['stallTimeoutMs']).text).toBe(failed.text);
    expect(blameOptions(ctx(), failed, { connectTimeoutMs: 500 }, ['connectTimeoutMs']).text).toBe(failed.text);
  });

  it('follows a path into a nested section and names it as the config spells it', () => {
    const given = ctx({ socket: { expectResponseAfterWrite: true, stallTimeoutMs: 3_000 } });
    expect(blameOptions(given, failed, given.config.http, ['socket.userTimeoutMs', 'socket.expectResponseAfterWrite', 'socket.stallTimeoutMs']).text).toBe(
      'BW_ERR_CONNECT_TIMEOUT after 0.5 s: socket.expectResponseAfterWrite true, socket.stallTimeoutMs 3000 (your options)',
    );
  });

  it("names a key the user left to the preset's http section as the preset's", () => {
    const given = ctx({ preset: { infra: 'envoy' }, http: { headersTimeoutMs: 45_000 } });
    expect(blameOptions(given, failed, given.config.http, ['headersTimeoutMs', 'attemptTimeoutMs', 'deadlineMs']).text).toBe(
      'BW_ERR_CONNECT_TIMEOUT after 0.5 s: headersTimeoutMs 45000 (your option), attemptTimeoutMs 13500, deadlineMs 40800 (your preset)',
    );
    const overridden = ctx({ preset: { infra: 'envoy' }, http: { attemptTimeoutMs: 5_000 } });
    expect(blameOptions(overridden, failed, overridden.config.http, ['attemptTimeoutMs']).text).toBe(
      'BW_ERR_CONNECT_TIMEOUT after 0.5 s: attemptTimeoutMs 5000 (your option)',
    );
  });

  it('judgeConfigured: the defeat when there is one, else the options named', () => {
    const given = ctx({ socket: { stallTimeoutMs: 3_000 } });
    expect(judgeConfigured(given, { ...failed, ok: true }, 'stallTimeoutMs 30000 → x, bound 20 s', given.config.socket, ['stallTimeoutMs'])).toMatchObject({
      ok: false,
      text: 'BW_ERR_CONNECT_TIMEOUT after 0.5 s: stallTimeoutMs 30000 → x, bound 20 s',
    });
    expect(judgeConfigured(given, failed, undefined, given.config.socket, ['stallTimeoutMs']).text).toBe(
      'BW_ERR_CONNECT_TIMEOUT after 0.5 s: stallTimeoutMs 3000 (your option)',
    );
  });
});

describe('jsonOptions: what reaches a child process as JSON', () => {
  it('leaves out functions, objects of methods and class instances, names them, and keeps the rest key by key', () => {
    const clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };
    const { sent, dropped } = jsonOptions({
      max: 4,
      probe: async () => {},
      clock,
      reconnectBackoff: { baseDelayMs: 50, maxDelayMs: 500 },
      socket: { stallTimeoutMs: 300, lookup: () => {}, tls: { ca: Buffer.from('x') } },
      leakWarningMs: Number.POSITIVE_INFINITY,
      unset: undefined,
    });
    expect(sent).toEqual({ max: 4, reconnectBackoff: { baseDelayMs: 50, maxDelayMs: 500 }, socket: { stallTimeoutMs: 300 } });
    expect(JSON.parse(JSON.stringify(sent))).toEqual(sent);
    expect(dropped).toEqual(['probe', 'clock', 'socket.lookup', 'socket.tls', 'leakWarningMs']);
    expect(droppedNote('pool', ['probe'])).toEqual([
      'not applied: pool.probe (your option): the client process gets the options as JSON, which functions, clocks and class instances do not survive',
    ]);
    expect(droppedNote('pool', [])).toEqual([]);
  });
});
