import net from 'node:net';
import { capabilities } from '@breakwater/socket';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTarget, probe } from './probe.js';

const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

/** A loopback server; `echoUpTo` bytes are echoed, the rest swallowed (a black hole for big payloads). */
async function server(echoUpTo: number): Promise<number> {
  const s = net.createServer((socket) => {
    let seen = 0;
    socket.on('data', (chunk) => {
      const room = Math.max(0, echoUpTo - seen);
      seen += chunk.length;
      if (room > 0) socket.write(chunk.subarray(0, room));
    });
    socket.on('error', () => {});
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return (s.address() as net.AddressInfo).port;
}

const native = capabilities().nativeBinding.available && process.platform === 'linux';

describe('probe', () => {
  it('connects, reads TCP_INFO and gets a 1 MB echo back from a loopback echo server', async () => {
    const port = await server(Number.POSITIVE_INFINITY);
    const report = await probe(`127.0.0.1:${port}`, { echoBytes: 1_000_000 });
    expect(report.summary).toEqual({ connected: 1, failed: 0, stalled: 0 });
    const [a] = report.addresses;
    expect(a).toMatchObject({ address: '127.0.0.1', family: 4, ok: true, echo: { sentBytes: 1_000_000, receivedBytes: 1_000_000, ok: true, stalled: false } });
    expect(a!.connectMs).toBeLessThan(1_000);
    expect(report.tcpInfo.available).toBe(native);
    if (native) {
      // Loopback: established (state 1), a 64 KiB path MTU, an RTT measured in µs.
      expect(a!.tcpInfo!.state).toBe(1);
      expect(a!.tcpInfo!.pmtu).toBeGreaterThanOrEqual(65_535);
      expect(a!.tcpInfo!.sndMss).toBeGreaterThan(1_000);
      expect(a!.echo!.tcpInfo!.rttUs).toBeGreaterThan(0);
    } else {
      expect(report.tcpInfo.reason).toBeTruthy();
    }
  });

  it('reports a stall when small payloads come back and large ones do not (FM-06)', async () => {
    const port = await server(10_000);
    const report = await probe(`127.0.0.1:${port}`, { echoBytes: 300_000, echoTimeoutMs: 300 });
    const echo = report.addresses[0]!.echo!;
    expect(echo).toMatchObject({ ok: false, stalled: true, sentBytes: 300_000, receivedBytes: 10_000 });
    expect(echo.hint).toMatch(/PMTU black hole/);
    expect(echo.elapsedMs).toBeGreaterThanOrEqual(290);
    expect(report.summary.stalled).toBe(1);
  });

  it('says so when the peer echoes nothing', async () => {
    const port = await server(0);
    const report = await probe(`127.0.0.1:${port}`, { echoBytes: 100, echoTimeoutMs: 100 });
    expect(report.addresses[0]!.echo!.hint).toMatch(/not an echo server/);
  });

  it('reports a refused address with its code and hint', async () => {
    const port = await server(0);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 20));
    const report = await probe(`127.0.0.1:${port}`);
    expect(report.addresses[0]).toMatchObject({ ok: false, error: { code: 'BW_ERR_CONNECT_REFUSED' } });
    expect(report.summary.failed).toBe(1);
  });

  it('parses host:port and [v6]:port, and rejects the rest', () => {
    expect(parseTarget('db.internal:5432')).toEqual({ host: 'db.internal', port: 5432 });
    expect(parseTarget('[::1]:7')).toEqual({ host: '::1', port: 7 });
    expect(() => parseTarget('db.internal')).toThrow(/host:port/);
    expect(() => parseTarget('::1:7')).toThrow(/host:port/);
    expect(() => parseTarget('h:70000')).toThrow(/Expected `port` to be an integer between 0 and 65535/);
  });
});
