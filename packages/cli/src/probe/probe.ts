import dns from 'node:dns';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { BreakwaterError, classify, isBreakwaterError, validatePort } from '@breakwater/core';
import { connect, readTcpInfo, type TcpInfo, tcpInfoUnavailableReason } from '@breakwater/socket';
import { type ProbeOptions, resolveProbeOptions } from '../defaults.js';

export interface EchoResult {
  sentBytes: number;
  receivedBytes: number;
  ok: boolean;
  /** All bytes did not come back within `echoTimeoutMs`. */
  stalled: boolean;
  elapsedMs: number;
  /** Milliseconds from the start to the last byte received. */
  lastProgressMs: number;
  error?: string;
  hint?: string;
  /** TCP_INFO after the transfer: retransmissions and the PMTU the kernel settled on. */
  tcpInfo?: TcpInfo;
}

export interface AddressResult {
  address: string;
  family: number;
  ok: boolean;
  connectMs?: number;
  error?: { code: string; message: string; hint: string };
  tcpInfo?: TcpInfo;
  echo?: EchoResult;
}

export interface ProbeReport {
  host: string;
  port: number;
  tcpInfo: { available: boolean; reason?: string };
  addresses: AddressResult[];
  summary: { connected: number; failed: number; stalled: number };
}

/** `host:port`, `[v6]:port` → parts; BW_ERR_INVALID_OPTION otherwise. */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:[\]]+):(\d+)$/.exec(target);
  if (m === null) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`target\` to look like host:port or [v6]:port, got ${JSON.stringify(target)}`, {
      details: { key: 'target' },
    });
  }
  return { host: m[1]!, port: validatePort(Number(m[2]), 'port') };
}

const pattern = (i: number) => (i * 7 + 13) % 251;

function echo(socket: net.Socket, bytes: number, timeoutMs: number): Promise<EchoResult> {
  const payload = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = pattern(i);
  const started = performance.now();
  let received = 0;
  let lastProgress = started;
  return new Promise((resolve) => {
    let settled = false;
    const done = (extra: Partial<EchoResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      const stalled = extra.stalled ?? false;
      const ok = received === bytes && extra.error === undefined;
      const result: EchoResult = {
        sentBytes: bytes,
        receivedBytes: received,
        ok,
        stalled,
        elapsedMs: Math.round(performance.now() - started),
        lastProgressMs: Math.round(lastProgress - started),
        ...extra,
      };
      const info = readTcpInfo(socket);
      if (info !== undefined) result.tcpInfo = info;
      if (stalled)
        result.hint =
          received === 0
            ? 'Nothing came back: the peer is not an echo server, or even the first segments are lost.'
            : `${received} of ${bytes} bytes came back, then nothing: full-size segments are being lost. A PMTU black hole (ICMP "fragmentation needed" filtered, FM-06) or a stalled peer.`;
      resolve(result);
    };
    const timer = setTimeout(() => done({ stalled: true }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== pattern(received + i)) return done({ error: `byte ${received + i} differs from what was sent: not an echo server?` });
      }
      received += chunk.length;
      lastProgress = performance.now();
      if (received >= bytes) done({});
    });
    socket.once('close', () => done(received >= bytes ? {} : { error: `the peer closed the connection after ${received} of ${bytes} bytes` }));
    socket.once('error', (err: Error) => done({ error: err.message }));
    socket.write(payload);
  });
}

async function probeAddress(host: string, port: number, address: string, family: number, o: ReturnType<typeof resolveProbeOptions>): Promise<AddressResult> {
  const started = performance.now();
  let socket: net.Socket;
  try {
    // One address per connect() so each gets its own handshake time; the
    // stall watchdog is off because the echo check measures stalls itself.
    socket = await connect({ host, port, addresses: [address], connectTimeoutMs: o.connectTimeoutMs, stallTimeoutMs: 0 });
  } catch (err) {
    const e = isBreakwaterError(err) ? err : classify(err, { host: address, port, phase: 'connect' });
    return { address, family, ok: false, connectMs: Math.round(performance.now() - started), error: { code: e.code, message: e.message, hint: e.hint } };
  }
  const result: AddressResult = { address, family, ok: true, connectMs: Math.round((performance.now() - started) * 100) / 100 };
  const info = readTcpInfo(socket);
  if (info !== undefined) result.tcpInfo = info;
  try {
    if (o.echoBytes > 0) {
      result.echo = await echo(socket, o.echoBytes, o.echoTimeoutMs);
      result.ok = result.echo.ok;
    }
  } finally {
    socket.destroy();
  }
  return result;
}

/**
 * Connects to every address `host` resolves to, one at a time, and reports
 * the handshake time, the kernel's view of the path (TCP_INFO: RTT, MSS,
 * PMTU, retransmissions) and, with `echoBytes`, whether a large payload
 * makes it to an echo server and back (PMTU black holes, FM-06).
 *
 * @throws BreakwaterError `BW_ERR_DNS` when the name does not resolve.
 * @example
 * const report = await probe('db.internal:7', { echoBytes: 100_000 });
 */
export async function probe(target: string, options: ProbeOptions = {}): Promise<ProbeReport> {
  const o = resolveProbeOptions(options);
  const { host, port } = parseTarget(target);
  let found: { address: string; family: number }[];
  try {
    found = net.isIP(host) !== 0 ? [{ address: host, family: net.isIP(host) }] : await dns.promises.lookup(host, { all: true, order: 'verbatim' });
  } catch (err) {
    throw classify(err, { host, phase: 'connect' });
  }
  // Loads the native binding (socket's and ours) before the first handshake is timed.
  const reason = tcpInfoUnavailableReason();
  const addresses: AddressResult[] = [];
  for (const { address, family } of found) addresses.push(await probeAddress(host, port, address, family, o));
  return {
    host,
    port,
    tcpInfo: reason === undefined ? { available: true } : { available: false, reason },
    addresses,
    summary: {
      connected: addresses.filter((a) => a.connectMs !== undefined && a.error === undefined).length,
      failed: addresses.filter((a) => a.error !== undefined).length,
      stalled: addresses.filter((a) => a.echo?.stalled === true).length,
    },
  };
}
