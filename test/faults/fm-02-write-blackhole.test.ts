import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { ECHO_SERVER } from '../support/programs.js';
import { reportResult, seconds } from '../support/report.js';
import { connect, echoRoundTrip, quietFor, tcpInfo } from '../support/sockets.js';

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

    const info = await tcpInfo(watch.socket.localPort ?? 0);
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
});
