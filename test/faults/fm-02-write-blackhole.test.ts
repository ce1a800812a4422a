import { nativeUnavailableReason } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { ECHO_SERVER } from '../support/programs.js';
import { reportResult, seconds } from '../support/report.js';
import { connect, connectHardened, echoRoundTrip, failureWithin, quietFor, tcpInfo } from '../support/sockets.js';

/**
 * FM-02, the 15-minute hang: the peer vanishes while written data is still
 * unacknowledged. The kernel retransmits with exponential backoff until
 * tcp_retries2 (15 by default, ~924 s) and reports nothing before that.
 * The server is an echo server, so a leaky blackhole shows up as echoed data.
 */

const WAIT_MS = 30_000;
const PAYLOAD_BYTES = 64 * 1024;

describeNetns('FM-02 write into a blackhole (data in flight, peer gone)', () => {
  const defer = useCleanup();

  it('naive: a write nobody acknowledges raises no error for 30 s', async () => {
    const topo = await topology(defer);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const { port } = (await server.ready) as { port: number };
    const watch = await connect(topo.server.address, port);
    defer(() => watch.socket.destroy());
    await echoRoundTrip(watch, 'hello');

    watch.mark();
    await topo.server.nft.blackholePort(port);
    const written = new Promise<Error | null | undefined>((resolve) => watch.socket.write(Buffer.alloc(PAYLOAD_BYTES, 0x62), resolve));

    const event = await quietFor([watch], WAIT_MS);
    expect(event, 'the client got an echo, an error or a close: the blackhole did not hold').toBeUndefined();
    // The write callback only means "handed to the kernel": no error there either.
    expect(await Promise.race([written, Promise.resolve('pending')])).not.toBeInstanceOf(Error);

    const info = await tcpInfo(watch.socket);
    expect(info?.state).toBe('ESTAB');
    // The kernel still holds the data and keeps retransmitting it.
    expect(info?.unacked ?? 0).toBeGreaterThan(0);
    expect(info?.retransmits ?? 0).toBeGreaterThan(0);
    reportResult(
      { fm: 'FM-02', side: 'naive', metric: 'silentSecondsWithUnackedData', value: Number(seconds(WAIT_MS)), unit: 's' },
      `no error after ${seconds(WAIT_MS)} s with ${PAYLOAD_BYTES / 1024} KB written: ${info?.unacked} segments unacknowledged, ` +
        `${info?.retransmits} retransmissions so far, writableLength ${watch.socket.writableLength} (the kernel gives up after ~924 s)`,
    );
  });

  it('breakwater: TCP_USER_TIMEOUT fails the write within user timeout + 1 s; with native off the stall watchdog within stall timeout + 1 s', async () => {
    const topo = await topology(defer);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const { port } = (await server.ready) as { port: number };
    const native = nativeUnavailableReason() === undefined;
    if (!native)
      console.log(`[FM-02] native binding unavailable (${nativeUnavailableReason()}): the TCP_USER_TIMEOUT variant is skipped, the watchdog covers it`);
    const variants = [
      // As shipped: TCP_USER_TIMEOUT 10 s and the 10 s watchdog; whichever fires first.
      { label: 'defaults', boundMs: 10_000 + 1_000, codes: ['BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED'], options: {} },
      // The kernel alone: the watchdog is off, so only TCP_USER_TIMEOUT can fire.
      ...(native
        ? [
            {
              label: 'native TCP_USER_TIMEOUT 3 s',
              boundMs: 3_000 + 1_000,
              codes: ['BW_ERR_PEER_TIMEOUT'],
              options: { userTimeoutMs: 3_000, stallTimeoutMs: 0 },
            },
          ]
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
    const watches = await Promise.all(variants.map((v) => connectHardened(topo.server.address, port, v.options)));
    for (const w of watches) {
      defer(() => w.socket.destroy());
      await echoRoundTrip(w, 'hello');
    }
    await topo.server.nft.blackholePort(port);
    variants.forEach((v, i) => {
      watches[i]?.socket.write(Buffer.alloc(('payloadBytes' in v ? v.payloadBytes : undefined) ?? PAYLOAD_BYTES, 0x62));
    });
    const outcomes = await Promise.all(watches.map((w) => failureWithin(w, WAIT_MS)));

    variants.forEach((v, i) => {
      const outcome = outcomes[i];
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
  });
});
