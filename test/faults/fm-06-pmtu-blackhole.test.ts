import { guardOf } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { SIZED_RESPONSE_SERVER } from '../support/programs.js';
import { reportResult, seconds } from '../support/report.js';
import { connect, connectHardened, failureWithin } from '../support/sockets.js';

/**
 * FM-06, PMTU black hole: client — router — server, the router's
 * client-facing hop has a 1400 MTU while both endpoints keep 1500 (so they
 * negotiate a 1460 MSS), and the router drops the ICMP "fragmentation
 * needed" it should send back. Full-size response segments die at the
 * router; small messages pass. The control is the same topology without
 * the ICMP drop: PMTU discovery shrinks the segments and the transfer
 * completes, which proves the black hole is what stalls it.
 */

const SMALL = 500;
const LARGE = 100 * 1024;
const STALL_WAIT_MS = 8_000;
const SMALL_WAIT_MS = 3_000;

async function fetchBytes(address: string, port: number, size: number, waitMs: number): Promise<{ bytes: number; ms: number }> {
  const watch = await connect(address, port);
  try {
    const started = performance.now();
    watch.socket.write(`${size}\n`);
    const bytes = await watch.readBytes(size, waitMs);
    return { bytes, ms: performance.now() - started };
  } finally {
    watch.socket.destroy();
  }
}

describeNetns('FM-06 PMTU black hole (1400-MTU hop, ICMP dropped)', () => {
  const defer = useCleanup();

  it('naive: 500 B responses arrive, a 100 KB response stalls; without the ICMP drop it arrives', async () => {
    const [hole, control] = await Promise.all([
      topology(defer, { router: true, mtu: { clientRouter: 1400 } }),
      topology(defer, { router: true, mtu: { clientRouter: 1400 } }),
    ]);
    await hole.router?.nft.dropIcmpUnreachable();
    const ports = await Promise.all([hole, control].map(async (topo) => ((await topo.server.spawnNode(SIZED_RESPONSE_SERVER).ready) as { port: number }).port));
    const [holePort = 0, controlPort = 0] = ports;

    // Both run at once: the stall costs its full wait, the control takes milliseconds.
    const [small, large, controlLarge] = await Promise.all([
      fetchBytes(hole.server.address, holePort, SMALL, SMALL_WAIT_MS),
      fetchBytes(hole.server.address, holePort, LARGE, STALL_WAIT_MS),
      fetchBytes(control.server.address, controlPort, LARGE, STALL_WAIT_MS),
    ]);

    expect(small.bytes).toBe(SMALL);
    expect(controlLarge.bytes, 'PMTU discovery failed even without the ICMP drop: the topology is broken').toBe(LARGE);
    expect(large.bytes).toBeLessThan(LARGE);

    reportResult(
      { fm: 'FM-06', side: 'naive', metric: 'bytesAfterStallWait', value: large.bytes, unit: 'B' },
      `${LARGE / 1024} KB response: ${large.bytes} bytes after ${seconds(STALL_WAIT_MS)} s, no error; ${SMALL} B response complete in ${small.ms.toFixed(1)} ms`,
    );
    reportResult(
      { fm: 'FM-06', side: 'control', metric: 'largeResponseMs', value: Number(controlLarge.ms.toFixed(1)), unit: 'ms' },
      `ICMP not dropped: ${LARGE / 1024} KB arrived in ${controlLarge.ms.toFixed(1)} ms (PMTU discovery works)`,
    );
  });

  it('breakwater: small responses still work, a 100 KB response ends in BW_ERR_STALLED within stall timeout + 1 s', async () => {
    const hole = await topology(defer, { router: true, mtu: { clientRouter: 1400 } });
    await hole.router?.nft.dropIcmpUnreachable();
    const { port } = (await hole.server.spawnNode(SIZED_RESPONSE_SERVER).ready) as { port: number };
    const stallTimeoutMs = 3_000;

    const small = await connectHardened(hole.server.address, port, { stallTimeoutMs });
    defer(() => small.socket.destroy());
    small.socket.write(`${SMALL}\n`);
    expect(await small.readBytes(SMALL, SMALL_WAIT_MS)).toBe(SMALL);

    // As shipped (a write makes a response owed until its first byte), and as
    // a protocol layer that knows the response size uses it (expect → settle).
    const variants = [
      { label: 'response owed after write (default)', watch: await connectHardened(hole.server.address, port, { stallTimeoutMs }) },
      {
        label: 'guard.expect() until 100 KB arrived',
        watch: await connectHardened(hole.server.address, port, { stallTimeoutMs, expectResponseAfterWrite: false }),
      },
    ];
    for (const { watch } of variants) defer(() => watch.socket.destroy());
    guardOf(variants[1]!.watch.socket)?.expect();
    for (const { watch } of variants) watch.socket.write(`${LARGE}\n`);
    const outcomes = await Promise.all(variants.map(({ watch }) => failureWithin(watch, STALL_WAIT_MS + 4_000)));

    variants.forEach(({ label, watch }, i) => {
      const outcome = outcomes[i];
      expect(outcome, `${label}: still hanging`).toBeDefined();
      expect(outcome?.error).toMatchObject({ code: 'BW_ERR_STALLED', hint: expect.stringMatching(/PMTU black hole/) });
      expect(outcome?.atMs).toBeLessThanOrEqual(stallTimeoutMs + 1_000);
      reportResult(
        { fm: 'FM-06', side: 'breakwater', metric: i === 0 ? 'stalledSeconds' : 'stalledSecondsExpect', value: Number(seconds(outcome?.atMs ?? 0)), unit: 's' },
        `${label}: BW_ERR_STALLED after ${seconds(outcome?.atMs ?? 0)} s with ${watch.bytesIn} of ${LARGE} bytes (stallTimeoutMs ${stallTimeoutMs}); ${SMALL} B responses still complete`,
      );
    });
  });
});
