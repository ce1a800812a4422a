import { guardOf } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { ECHO_SERVER } from '../support/programs.js';
import { reportResult, seconds } from '../support/report.js';
import { connect, connectHardened, echoRoundTrip, failureWithin, quietFor, type SocketWatch, tcpInfo } from '../support/sockets.js';

/**
 * FM-01, the zombie connection: the peer of an idle connection crashes and
 * no FIN or RST ever arrives (power loss, a dropped NAT entry, a blackholed
 * route). Reproduced with the server in a namespace: every packet of its port
 * is dropped both ways, then the server process is SIGKILLed, so the FIN its
 * kernel sends is dropped too. Without the blackhole the client would see
 * that FIN at once, which is what makes the naive assertion able to fail.
 */

const WAIT_MS = 30_000;

describeNetns('FM-01 zombie connection (idle peer gone without FIN)', () => {
  const defer = useCleanup();

  it('naive: net.connect defaults and setKeepAlive(true) see nothing for 30 s', async () => {
    const topo = await topology(defer);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const { port } = (await server.ready) as { port: number };

    const variants: { label: string; metric: string; watch: SocketWatch }[] = [];
    for (const [label, metric, keepAlive] of [
      ['keepalive off', 'silentSecondsKeepAliveOff', false],
      ["setKeepAlive(true), Node's default delay", 'silentSecondsKeepAliveDefault', true],
    ] as const) {
      const watch = await connect(topo.server.address, port);
      defer(() => watch.socket.destroy());
      if (keepAlive) watch.socket.setKeepAlive(true);
      // The path works before the fault.
      await echoRoundTrip(watch, 'hello');
      variants.push({ label, metric, watch });
    }

    for (const v of variants) v.watch.mark();
    await topo.server.nft.blackholePort(port);
    await server.kill();

    const event = await quietFor(
      variants.map((v) => v.watch),
      WAIT_MS,
    );
    expect(event, 'the client noticed the dead peer: the blackhole did not hold').toBeUndefined();

    for (const { label, metric, watch } of variants) {
      const info = await tcpInfo(watch.socket);
      expect(info?.state).toBe('ESTAB');
      reportResult(
        { fm: 'FM-01', side: 'naive', metric, value: Number(seconds(WAIT_MS)), unit: 's' },
        `no error after ${seconds(WAIT_MS)} s (${label}; socket ${info?.state}, kernel timer ${info?.timer || 'none'})`,
      );
    }
  });

  it('breakwater: keepalive defaults report the dead peer within idle + interval × count + 2 s (≤ 20 s), native or not', async () => {
    const topo = await topology(defer);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const { port } = (await server.ready) as { port: number };

    // Defaults as shipped, and with the native binding off (Node 24: its own
    // 4-argument setKeepAlive; Node 22: libuv's 1 s × 10 probes).
    const variants = [
      { label: 'defaults', watch: await connectHardened(topo.server.address, port) },
      { label: 'native: false', watch: await connectHardened(topo.server.address, port, { native: false }) },
    ];
    for (const { watch } of variants) {
      defer(() => watch.socket.destroy());
      await echoRoundTrip(watch, 'hello');
    }
    await topo.server.nft.blackholePort(port);
    await server.kill();

    const outcomes = await Promise.all(variants.map(({ watch }) => failureWithin(watch, 30_000)));
    variants.forEach(({ label, watch }, i) => {
      const applied = guardOf(watch.socket)?.applied.keepAlive;
      const outcome = outcomes[i];
      const bound = (applied?.detectWithinMs ?? 0) + 2_000;
      expect(applied?.detectWithinMs).toBeLessThanOrEqual(18_000);
      expect(outcome, `${label}: no error within 30 s`).toBeDefined();
      expect(outcome?.error).toMatchObject({ code: 'BW_ERR_PEER_TIMEOUT', retryable: true });
      expect(outcome?.atMs).toBeLessThanOrEqual(bound);
      reportResult(
        {
          fm: 'FM-01',
          side: 'breakwater',
          metric: label === 'defaults' ? 'detectSeconds' : 'detectSecondsNativeOff',
          value: Number(seconds(outcome?.atMs ?? 0)),
          unit: 's',
        },
        `${label} (${applied?.mechanism}, bound ${seconds(bound)} s): ${outcome?.error && 'code' in outcome.error ? outcome.error.code : 'error'} after ${seconds(outcome?.atMs ?? 0)} s`,
      );
    });
  });
});
