import { nativeUnavailableReason } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { type Fm02Outcome, fm02 } from '../../packages/scorecard/src/scenarios/fm-02.js';
import { describeNetns } from '../support/netns.js';
import { reportResult, seconds } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';
import { tcpInfo } from '../support/sockets.js';

/**
 * FM-02, the 15-minute hang: the peer vanishes while written data is still
 * unacknowledged. The kernel retransmits with exponential backoff until
 * tcp_retries2 (15 by default, ~924 s) and reports nothing before that. The
 * scorecard's scenario blackholes an echo server's port (a leaky blackhole
 * shows up as echoed data) and writes 64 KB from net.connect() and from
 * connect() with its defaults. This file runs it with a 30 s window and more
 * Breakwater clients in the same blackhole: each mechanism alone, and the
 * HTTP rule (no response owed after a write). Its healthy twin (a POST a
 * live server acknowledged and answers after 12 s) must get its answer.
 */

const WAIT_MS = 30_000;
const PAYLOAD_BYTES = 64 * 1024;
const native = nativeUnavailableReason() === undefined;

/** The scenario's own client (defaults) first, then the extra ones. */
const variants = [
  // As shipped: TCP_USER_TIMEOUT 10 s and the 10 s watchdog; whichever fires first.
  { label: 'defaults', boundMs: 10_000 + 1_000, codes: ['BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED'], options: {} },
  // The kernel alone: the watchdog is off, so only TCP_USER_TIMEOUT can fire.
  ...(native
    ? [{ label: 'native TCP_USER_TIMEOUT 3 s', boundMs: 3_000 + 1_000, codes: ['BW_ERR_PEER_TIMEOUT'], options: { userTimeoutMs: 3_000, stallTimeoutMs: 0 } }]
    : []),
  // No native binding (macOS, Windows, koffi missing): the JavaScript watchdog.
  { label: 'native off, stall watchdog 3 s', boundMs: 3_000 + 1_000, codes: ['BW_ERR_STALLED'], options: { native: false, stallTimeoutMs: 3_000 } },
  // As @breakwater/http sets it (no response owed after a write, a server may think): only our
  // unacknowledged bytes count, read from TCP_INFO; the kernel's own timeout is off to isolate it.
  ...(native
    ? [
        {
          label: 'HTTP rule, TCP_INFO unacked, user timeout off, stall 3 s',
          boundMs: 3_000 + 1_000,
          codes: ['BW_ERR_STALLED'],
          observed: 'unacknowledged',
          options: { userTimeoutMs: 0, stallTimeoutMs: 3_000, expectResponseAfterWrite: false },
        },
      ]
    : []),
  // The same without TCP_INFO: only bytes still waiting in this process count, so it takes an upload
  // larger than the kernel's buffers (64 KB vanish into them: then only the headers timeout or the
  // deadline bounds the wait, by design, since a thinking server looks the same from here).
  {
    label: 'HTTP rule, no TCP_INFO, 4 MB upload, stall 3 s',
    payloadBytes: 4 * 1024 * 1024,
    boundMs: 3_000 + 1_000,
    codes: ['BW_ERR_STALLED'],
    observed: 'notDraining',
    options: { native: false, stallTimeoutMs: 3_000, expectResponseAfterWrite: false },
  },
];

describeNetns('FM-02 write into a blackhole (data in flight, peer gone)', () => {
  it('naive: no error for 30 s with data unacknowledged; Breakwater: TCP_USER_TIMEOUT, the stall watchdog and the HTTP rule each within their bound', async () => {
    if (!native)
      console.log(`[FM-02] native binding unavailable (${nativeUnavailableReason()}): the TCP_USER_TIMEOUT variants are skipped, the watchdog covers them`);
    let seen: (Fm02Outcome & { info?: Awaited<ReturnType<typeof tcpInfo>>; writableLength?: number; written?: unknown }) | undefined;
    const result = await scenarioResult(
      fm02({
        windowMs: WAIT_MS,
        clients: variants.slice(1).map((v) => ({ options: v.options, ...('payloadBytes' in v ? { payloadBytes: v.payloadBytes } : {}) })),
        async inspect(outcome) {
          const written = await Promise.race([outcome.naiveWritten, Promise.resolve('pending')]);
          seen = { ...outcome, info: await tcpInfo(outcome.naive.socket), writableLength: outcome.naive.socket.writableLength, written };
        },
      }),
    );

    expect(seen?.naiveEvent, 'the client got an echo, an error or a close: the blackhole did not hold').toBeUndefined();
    expect(result.naive.ok, result.naive.text).toBe(true);
    // The write callback only means "handed to the kernel": no error there either.
    expect(seen?.written).not.toBeInstanceOf(Error);
    expect(seen?.info?.state).toBe('ESTAB');
    // The kernel still holds the data and keeps retransmitting it.
    expect(seen?.info?.unacked ?? 0).toBeGreaterThan(0);
    expect(seen?.info?.retransmits ?? 0).toBeGreaterThan(0);
    reportResult(
      { fm: 'FM-02', side: 'naive', metric: 'silentSecondsWithUnackedData', value: Number(seconds(WAIT_MS)), unit: 's' },
      `no error after ${seconds(WAIT_MS)} s with ${PAYLOAD_BYTES / 1024} KB written: ${seen?.info?.unacked} segments unacknowledged, ` +
        `${seen?.info?.retransmits} retransmissions so far, writableLength ${seen?.writableLength} (the kernel gives up after ~924 s)`,
    );

    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    variants.forEach((v, i) => {
      const outcome = seen?.failures[i];
      expect(outcome, `${v.label}: no error within ${seconds(WAIT_MS)} s`).toBeDefined();
      expect(v.codes).toContain((outcome?.error as { code?: string } | undefined)?.code);
      const error = outcome?.error as { details?: { observed?: string }; message?: string } | undefined;
      if ('observed' in v) expect(error?.details?.observed).toBe(v.observed);
      console.log(`[FM-02] ${v.label}: ${error?.message}`);
      expect(outcome?.atMs).toBeLessThanOrEqual(v.boundMs);
      reportResult(
        { fm: 'FM-02', side: 'breakwater', metric: `errorSeconds ${v.label}`, value: Number(seconds(outcome?.atMs ?? 0)), unit: 's' },
        `${v.label}: ${(outcome?.error as { code?: string } | undefined)?.code} after ${seconds(outcome?.atMs ?? 0)} s (bound ${seconds(v.boundMs)} s)`,
      );
    });

    // The healthy twin, beside the window: createClient() defaults, a server that acknowledged a POST and thinks 12 s.
    console.log(`[FM-02] healthy twin: ${result.twin?.text}`);
    expect(result.twin?.ok, result.twin?.text).toBe(true);
    expect(result.twin?.value).toBeGreaterThanOrEqual(12);
  });
});
