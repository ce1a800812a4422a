import { createRequire } from 'node:module';
import type net from 'node:net';
import { nativeUnavailableReason } from '@breakwater/socket';

/**
 * getsockopt(IPPROTO_TCP, TCP_INFO) through the optional koffi binding.
 * @breakwater/socket has the same call internally but does not export it;
 * this copy keeps the CLI from reaching into its internals.
 */
const IPPROTO_TCP = 6;
const TCP_INFO = 11;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;
let getsockopt: GetSockOpt | null | undefined;
let reason: string | undefined;

function load(): GetSockOpt | null {
  if (getsockopt !== undefined) return getsockopt;
  getsockopt = null;
  reason = nativeUnavailableReason();
  if (reason !== undefined) return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(signature: string): unknown } };
    getsockopt = koffi.load('libc.so.6').func('int getsockopt(int fd, int level, int name, _Out_ void *val, _Inout_ uint32_t *len)') as GetSockOpt;
  } catch (err) {
    reason = `the optional dependency koffi did not load: ${(err as Error).message.split('\n')[0]}`;
  }
  return getsockopt;
}

/** Why TCP_INFO cannot be read here, or undefined when it can. */
export function tcpInfoUnavailableReason(): string | undefined {
  load();
  return getsockopt === null ? reason : undefined;
}

/** Raw `struct tcp_info` bytes of a connected socket, or undefined. */
export function readTcpInfo(socket: net.Socket): Buffer | undefined {
  const fn = load();
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (fn === null || typeof fd !== 'number' || fd < 0) return undefined;
  const buf = Buffer.alloc(256);
  const len = [256];
  try {
    return fn(fd, IPPROTO_TCP, TCP_INFO, buf, len) === 0 ? buf.subarray(0, len[0]) : undefined;
  } catch {
    return undefined;
  }
}
