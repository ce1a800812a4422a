import type net from 'node:net';
import { getTcpInfo, nativeUnavailableReason } from './internal/native.js';

/**
 * Linux `struct tcp_info` (include/uapi/linux/tcp.h), the fields a path
 * diagnosis and the stall watchdog need. Times are in microseconds as the
 * kernel reports them. One decoder for the whole project: the CLI's probe and
 * the watchdog both read it from here.
 */
export interface TcpInfo {
  state: number;
  caState: number;
  /** Retransmission timeouts in a row right now. */
  retransmits: number;
  probes: number;
  backoff: number;
  options: number;
  sndWscale: number;
  rcvWscale: number;
  rtoUs: number;
  atoUs: number;
  sndMss: number;
  rcvMss: number;
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  lastDataSentMs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  /** Path MTU the kernel currently believes. */
  pmtu: number;
  rcvSsthresh: number;
  /** Smoothed RTT. */
  rttUs: number;
  rttVarUs: number;
  sndSsthresh: number;
  sndCwnd: number;
  advmss: number;
  reordering: number;
  /** Retransmitted segments over the connection's life (kernel ≥ 3.x; absent in shorter structs). */
  totalRetrans?: number;
  /** Bytes the peer acknowledged over the connection's life (kernel ≥ 4.1): the watchdog's progress counter. */
  bytesAcked?: number;
  /** Bytes received over the connection's life (kernel ≥ 4.1). */
  bytesReceived?: number;
  /** Bytes in the send queue not yet sent, e.g. behind a closed window (kernel ≥ 4.6). */
  notsentBytes?: number;
  /** Lowest RTT seen (kernel ≥ 4.6). */
  minRttUs?: number;
}

/** Offsets of the fields above; checked against linux/tcp.h in tcpInfo.test.ts. */
export const TCP_INFO_OFFSETS = Object.freeze({
  state: 0,
  caState: 1,
  retransmits: 2,
  probes: 3,
  backoff: 4,
  options: 5,
  wscale: 6,
  rtoUs: 8,
  atoUs: 12,
  sndMss: 16,
  rcvMss: 20,
  unacked: 24,
  sacked: 28,
  lost: 32,
  retrans: 36,
  lastDataSentMs: 44,
  lastDataRecvMs: 52,
  lastAckRecvMs: 56,
  pmtu: 60,
  rcvSsthresh: 64,
  rttUs: 68,
  rttVarUs: 72,
  sndSsthresh: 76,
  sndCwnd: 80,
  advmss: 84,
  reordering: 88,
  totalRetrans: 100,
  bytesAcked: 120,
  bytesReceived: 128,
  notsentBytes: 144,
  minRttUs: 148,
});

/** The struct up to `reordering` is 92 bytes; older kernels give no less. */
const MIN_LENGTH = 92;

/** Decodes the raw getsockopt(TCP_INFO) bytes (little- or big-endian host order); undefined when too short. */
export function decodeTcpInfo(raw: Uint8Array, littleEndian = true): TcpInfo | undefined {
  if (raw.length < MIN_LENGTH) return undefined;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const O = TCP_INFO_OFFSETS;
  const u8 = (o: number) => view.getUint8(o);
  const u32 = (o: number) => view.getUint32(o, littleEndian);
  // Counters past 2^53 bytes cannot happen on one connection; Number is exact below that.
  const u64 = (o: number) => Number(view.getBigUint64(o, littleEndian));
  const has = (o: number, size: number) => raw.length >= o + size;
  // `__u8 tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4`: GCC puts the first bit-field in the low bits.
  const wscale = u8(O.wscale);
  return {
    state: u8(O.state),
    caState: u8(O.caState),
    retransmits: u8(O.retransmits),
    probes: u8(O.probes),
    backoff: u8(O.backoff),
    options: u8(O.options),
    sndWscale: wscale & 0x0f,
    rcvWscale: wscale >> 4,
    rtoUs: u32(O.rtoUs),
    atoUs: u32(O.atoUs),
    sndMss: u32(O.sndMss),
    rcvMss: u32(O.rcvMss),
    unacked: u32(O.unacked),
    sacked: u32(O.sacked),
    lost: u32(O.lost),
    retrans: u32(O.retrans),
    lastDataSentMs: u32(O.lastDataSentMs),
    lastDataRecvMs: u32(O.lastDataRecvMs),
    lastAckRecvMs: u32(O.lastAckRecvMs),
    pmtu: u32(O.pmtu),
    rcvSsthresh: u32(O.rcvSsthresh),
    rttUs: u32(O.rttUs),
    rttVarUs: u32(O.rttVarUs),
    sndSsthresh: u32(O.sndSsthresh),
    sndCwnd: u32(O.sndCwnd),
    advmss: u32(O.advmss),
    reordering: u32(O.reordering),
    ...(has(O.totalRetrans, 4) ? { totalRetrans: u32(O.totalRetrans) } : {}),
    ...(has(O.bytesAcked, 8) ? { bytesAcked: u64(O.bytesAcked) } : {}),
    ...(has(O.bytesReceived, 8) ? { bytesReceived: u64(O.bytesReceived) } : {}),
    ...(has(O.notsentBytes, 4) ? { notsentBytes: u32(O.notsentBytes) } : {}),
    ...(has(O.minRttUs, 4) ? { minRttUs: u32(O.minRttUs) } : {}),
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The kernel's `struct tcp_info` for a connected socket (Linux, through the
 * optional koffi binding), or undefined: no binding, not Linux, or a socket
 * without a real fd (msw's interceptor). One getsockopt, a few microseconds.
 * @example
 * const info = readTcpInfo(socket);
 * if (info !== undefined && info.unacked > 0) console.log(`${info.unacked} segments in flight`);
 */
export function readTcpInfo(socket: net.Socket): TcpInfo | undefined {
  if (process.platform !== 'linux') return undefined;
  const raw = getTcpInfo(socket);
  return raw === undefined ? undefined : decodeTcpInfo(raw, LITTLE_ENDIAN);
}

/** Why {@link readTcpInfo} cannot work here, or undefined when it can. */
export function tcpInfoUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `TCP_INFO is read on Linux only (this is ${process.platform})`;
  return nativeUnavailableReason();
}
