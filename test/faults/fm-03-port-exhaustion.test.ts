import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { REQUEST_CLIENT, SIZED_RESPONSE_SERVER } from '../support/programs.js';
import { reportResult } from '../support/report.js';

/**
 * FM-03, ephemeral port exhaustion: a connection per request where the
 * client closes first leaves each client port in TIME_WAIT for 60 s. With
 * the client namespace's range cut to 100 ports (40000–40099) the 101st
 * connect fails with EADDRNOTAVAIL. The control sends as many requests over
 * one connection in the same namespace, first (it ends with a reset, so its
 * port does not linger in TIME_WAIT).
 */

const REQUESTS = 400;
const PORTS = 100;

interface Counts {
  ok: number;
  errors: Record<string, number>;
  elapsedMs: number;
}

describeNetns('FM-03 ephemeral port exhaustion (TIME_WAIT on the client)', () => {
  const defer = useCleanup();

  it('naive: 400 connection-per-request exchanges run out of 100 ports; one reused connection does not', async () => {
    const topo = await topology(defer, { clientNamespace: true });
    await topo.client.sysctl('net.ipv4.ip_local_port_range', `40000 ${40000 + PORTS - 1}`);
    expect(await topo.client.readSysctl('net.ipv4.ip_local_port_range')).toMatch(/^40000\s+40099$/);
    const server = topo.server.spawnNode(SIZED_RESPONSE_SERVER);
    const { port } = (await server.ready) as { port: number };

    const runClient = async (mode: 'reused' | 'per-request'): Promise<Counts> => {
      const child = topo.client.spawnNode(REQUEST_CLIENT, [topo.server.address, String(port), String(REQUESTS), mode], { readyTimeoutMs: 40_000 });
      return (await child.ready) as Counts;
    };

    const reused = await runClient('reused');
    expect(reused).toMatchObject({ ok: REQUESTS, errors: {} });
    reportResult(
      { fm: 'FM-03', side: 'control', metric: 'errors', value: 0, unit: 'requests' },
      `${REQUESTS} requests over one reused connection: ${reused.ok} ok, 0 errors (${reused.elapsedMs} ms)`,
    );

    const naive = await runClient('per-request');
    const exhausted = naive.errors.EADDRNOTAVAIL ?? 0;
    // Without the range limit all 400 would succeed; without TIME_WAIT none would fail.
    expect(naive.ok).toBeGreaterThanOrEqual(PORTS * 0.9);
    expect(naive.ok).toBeLessThanOrEqual(PORTS);
    expect(exhausted).toBeGreaterThanOrEqual(250);
    expect(naive.ok + exhausted).toBe(REQUESTS);
    reportResult(
      { fm: 'FM-03', side: 'naive', metric: 'EADDRNOTAVAIL', value: exhausted, unit: 'requests' },
      `${REQUESTS} connection-per-request exchanges with ${PORTS} ports: ${naive.ok} ok, ${exhausted} EADDRNOTAVAIL (${naive.elapsedMs} ms)`,
    );
  });
});
