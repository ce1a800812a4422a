import { createRequire } from 'node:module';
import type net from 'node:net';

/**
 * setsockopt/getsockopt through the optional `koffi` FFI binding, for the
 * socket options Node does not expose (TCP_USER_TIMEOUT, TCP_KEEPINTVL on
 * Node 22, TCP_MAXSEG, TCP_INFO). Everything here degrades to "unavailable":
 * koffi missing, a platform without libc, a socket without a real fd (msw's
 * interceptor reports -1, Windows has none).
 */

const IPPROTO_TCP = 6;
const SOL_SOCKET: Partial<Record<NodeJS.Platform, number>> = { linux: 1, darwin: 0xffff };
const LIBC: Partial<Record<NodeJS.Platform, string>> = { linux: 'libc.so.6', darwin: 'libSystem.B.dylib' };

/**
 * macOS option numbers (netinet/tcp.h). There is no TCP_USER_TIMEOUT; the
 * nearest is TCP_RXT_CONNDROPTIME: seconds of retransmission before the
 * connection is dropped. Not exercised by CI (Linux only).
 */
export const DARWIN = Object.freeze({
  TCP_KEEPALIVE: 0x10,
  TCP_RXT_CONNDROPTIME: 0x80,
  TCP_KEEPINTVL: 0x101,
  TCP_KEEPCNT: 0x102,
});

/** Linux option numbers (include/uapi/linux/tcp.h, asm-generic/socket.h). */
export const LINUX = Object.freeze({
  TCP_MAXSEG: 2,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_INFO: 11,
  TCP_USER_TIMEOUT: 18,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
});

type SetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number) => number;
type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;

interface Binding {
  setsockopt: SetSockOpt;
  getsockopt: GetSockOpt;
}

let binding: Binding | null | undefined;
let loadError: string | undefined;

function load(): Binding | null {
  if (binding !== undefined) return binding;
  binding = null;
  const library = LIBC[process.platform];
  if (library === undefined) {
    loadError = `native socket options are implemented for Linux and macOS only (this is ${process.platform})`;
    return binding;
  }
  if (process.env.BREAKWATER_NATIVE === '0') {
    loadError = 'disabled by BREAKWATER_NATIVE=0';
    return binding;
  }
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as {
      load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
    };
    const libc = koffi.load(library);
    binding = {
      setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)') as SetSockOpt,
      getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ void *val, _Inout_ uint32_t *len)') as GetSockOpt,
    };
  } catch (err) {
    loadError = `the optional dependency koffi did not load: ${(err as Error).message.split('\n')[0]}`;
  }
  return binding;
}

/** Why native options are unavailable, or undefined when they are. */
export function nativeUnavailableReason(): string | undefined {
  load();
  return binding === null ? loadError : undefined;
}

/** The OS file descriptor of a connected or connecting socket, or -1. */
export function fdOf(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

function setInt(fd: number, level: number, name: number, value: number): boolean {
  const b = load();
  if (b === null || fd < 0) return false;
  const buf = Buffer.alloc(4);
  buf.writeInt32LE(value);
  try {
    return b.setsockopt(fd, level, name, buf, 4) === 0;
  } catch {
    return false;
  }
}

/** setsockopt(IPPROTO_TCP, name, int); false when not applied. */
export function setTcpOption(socket: net.Socket, name: number, value: number): boolean {
  return setInt(fdOf(socket), IPPROTO_TCP, name, value);
}

export function setSocketOption(socket: net.Socket, name: number, value: number): boolean {
  const level = SOL_SOCKET[process.platform];
  return level !== undefined && setInt(fdOf(socket), level, name, value);
}

/** getsockopt(IPPROTO_TCP, name) as an int, or undefined. */
export function getTcpOption(socket: net.Socket, name: number): number | undefined {
  const b = load();
  const fd = fdOf(socket);
  if (b === null || fd < 0) return undefined;
  const buf = Buffer.alloc(4);
  try {
    return b.getsockopt(fd, IPPROTO_TCP, name, buf, [4]) === 0 ? buf.readInt32LE() : undefined;
  } catch {
    return undefined;
  }
}

/** Raw `struct tcp_info` bytes (Linux), or undefined. */
export function getTcpInfo(socket: net.Socket): Buffer | undefined {
  const b = load();
  const fd = fdOf(socket);
  if (b === null || fd < 0) return undefined;
  const buf = Buffer.alloc(256);
  const len = [256];
  try {
    return b.getsockopt(fd, IPPROTO_TCP, LINUX.TCP_INFO, buf, len) === 0 ? buf.subarray(0, len[0]) : undefined;
  } catch {
    return undefined;
  }
}
