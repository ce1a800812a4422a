import type net from 'node:net';
import { publisher } from '@breakwater/core';
import { type ResolvedSocketOptions, resolveSocketOptions, type SocketOptions } from './defaults.js';
import { DARWIN, LINUX, nativeUnavailableReason, setTcpOption } from './internal/native.js';
import { StallWatchdog } from './StallWatchdog.js';
import { readTcpInfo } from './tcpInfo.js';

const publish = publisher('socket');
const kGuard = Symbol.for('breakwater.socket.guard');
/** How many `harden()` calls share a guard, when more than one (a `using` in a helper must not strip its owner's protection). */
const holders = new WeakMap<SocketGuard, number>();

/** How an option ended up applied on this socket. */
export type Mechanism = 'node' | 'native' | 'libuv-default' | 'emulated' | 'disabled' | 'pending';

export interface AppliedOptions {
  noDelay: boolean;
  /** Who set the keepalive idle/interval/count, and the resulting detection bound. */
  keepAlive: { mechanism: Mechanism; idleMs: number; intervalMs: number; count: number; detectWithinMs: number };
  /** `native` when TCP_USER_TIMEOUT is set in the kernel; `emulated` when the stall watchdog stands in. */
  userTimeout: { mechanism: Mechanism; timeoutMs: number };
  stallTimeoutMs: number;
}

/** The protections attached to one socket. Get it back with {@link guardOf}. */
export interface SocketGuard {
  readonly socket: net.Socket;
  readonly options: Readonly<ResolvedSocketOptions>;
  readonly applied: Readonly<AppliedOptions>;
  /** Bytes from the peer are owed from now on (e.g. the rest of a body of known length): none for `stallTimeoutMs` → BW_ERR_STALLED. */
  expect(): void;
  /** The response is complete. */
  settle(): void;
  /**
   * Releases this holder's reference: every `harden()` call on the socket is
   * one (they share this guard), and the protections stop (the watchdog, the
   * FIN handling) when the last is released, or when the socket closes. The
   * socket stays open: it is the caller's. A later `harden()` builds a new guard.
   */
  dispose(): void;
  /** `dispose()`, for `using guard = harden(socket)`: the teardown is synchronous, so no `close()`. */
  [Symbol.dispose](): void;
}

// Node ≥ 24 (and 22.?+ backports) take interval and count in setKeepAlive.
const nodeKeepAliveHasInterval = (socket: net.Socket) => socket.setKeepAlive.length >= 4;
// libuv ≥ 1.49 sets these when keepalive is enabled and nothing else does.
const LIBUV_INTERVAL_MS = 1_000;
const LIBUV_COUNT = 10;

function peerOf(socket: net.Socket): string {
  const host = socket.remoteAddress ?? (socket as { _host?: string })._host ?? 'peer';
  const port = socket.remotePort;
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

function applyKeepAlive(socket: net.Socket, o: ResolvedSocketOptions, connected: boolean): AppliedOptions['keepAlive'] {
  const bound = (intervalMs: number, count: number) => o.keepAliveIdleMs + intervalMs * count;
  if (o.keepAliveIdleMs === 0) {
    socket.setKeepAlive(false);
    return { mechanism: 'disabled', idleMs: 0, intervalMs: 0, count: 0, detectWithinMs: Number.POSITIVE_INFINITY };
  }
  if (nodeKeepAliveHasInterval(socket)) {
    (socket.setKeepAlive as (e: boolean, d: number, i: number, c: number) => net.Socket)(true, o.keepAliveIdleMs, o.keepAliveIntervalMs, o.keepAliveCount);
    return {
      mechanism: 'node',
      idleMs: o.keepAliveIdleMs,
      intervalMs: o.keepAliveIntervalMs,
      count: o.keepAliveCount,
      detectWithinMs: bound(o.keepAliveIntervalMs, o.keepAliveCount),
    };
  }
  socket.setKeepAlive(true, o.keepAliveIdleMs);
  if (!connected)
    return { mechanism: 'pending', idleMs: o.keepAliveIdleMs, intervalMs: o.keepAliveIntervalMs, count: o.keepAliveCount, detectWithinMs: Number.NaN };
  const names = process.platform === 'darwin' ? DARWIN : LINUX;
  if (
    o.native &&
    setTcpOption(socket, names.TCP_KEEPINTVL, Math.round(o.keepAliveIntervalMs / 1000)) &&
    setTcpOption(socket, names.TCP_KEEPCNT, o.keepAliveCount)
  ) {
    return {
      mechanism: 'native',
      idleMs: o.keepAliveIdleMs,
      intervalMs: o.keepAliveIntervalMs,
      count: o.keepAliveCount,
      detectWithinMs: bound(o.keepAliveIntervalMs, o.keepAliveCount),
    };
  }
  return {
    mechanism: 'libuv-default',
    idleMs: o.keepAliveIdleMs,
    intervalMs: LIBUV_INTERVAL_MS,
    count: LIBUV_COUNT,
    detectWithinMs: bound(LIBUV_INTERVAL_MS, LIBUV_COUNT),
  };
}

function applyUserTimeout(socket: net.Socket, o: ResolvedSocketOptions, connected: boolean): AppliedOptions['userTimeout'] {
  if (o.userTimeoutMs === 0) return { mechanism: 'disabled', timeoutMs: 0 };
  if (!connected) return { mechanism: 'pending', timeoutMs: o.userTimeoutMs };
  if (o.native && process.platform === 'linux' && setTcpOption(socket, LINUX.TCP_USER_TIMEOUT, o.userTimeoutMs)) {
    return { mechanism: 'native', timeoutMs: o.userTimeoutMs };
  }
  // macOS: whole seconds of retransmission before the drop, the nearest thing.
  const seconds = Math.max(1, Math.ceil(o.userTimeoutMs / 1000));
  if (o.native && process.platform === 'darwin' && setTcpOption(socket, DARWIN.TCP_RXT_CONNDROPTIME, seconds)) {
    return { mechanism: 'native', timeoutMs: seconds * 1000 };
  }
  return { mechanism: o.stallTimeoutMs > 0 ? 'emulated' : 'disabled', timeoutMs: o.stallTimeoutMs };
}

/**
 * Applies Breakwater's protections to a socket someone else created (a
 * driver's, undici's connector's): NODELAY, keepalive idle/interval/count,
 * TCP_USER_TIMEOUT, the stall watchdog, and a full close when the peer sends
 * FIN. Works on connected and not-yet-connected sockets (options that need
 * the file descriptor are applied on `connect`). Calling it twice returns the
 * first guard, with one more holder: each caller's `dispose()` releases its own.
 *
 * @example
 * const guard = harden(net.connect(5432, 'db'), { stallTimeoutMs: 5_000 });
 * guard.applied.keepAlive.detectWithinMs; // 15000
 */
export function harden(socket: net.Socket, options?: SocketOptions): SocketGuard {
  const existing = guardOf(socket);
  if (existing !== undefined) {
    holders.set(existing, (holders.get(existing) ?? 1) + 1);
    return existing;
  }
  const o = resolveSocketOptions(options, 'harden()');
  const connected = !socket.connecting && socket.remoteAddress !== undefined;

  socket.setNoDelay(o.noDelay);
  const applied: AppliedOptions = {
    noDelay: o.noDelay,
    keepAlive: applyKeepAlive(socket, o, connected),
    userTimeout: applyUserTimeout(socket, o, connected),
    stallTimeoutMs: o.stallTimeoutMs,
  };
  // TCP_INFO tells a peer that is thinking (our bytes acknowledged) from one that is gone.
  const watchdog = new StallWatchdog(socket, o.stallTimeoutMs, o.clock, () => peerOf(socket), o.native ? readTcpInfo : undefined);

  const onConnect = () => {
    applied.keepAlive = applyKeepAlive(socket, o, true);
    applied.userTimeout = applyUserTimeout(socket, o, true);
    publish('hardened', { socket, applied });
  };
  if (connected) publish('hardened', { socket, applied });
  else socket.once('connect', onConnect);

  const onData = () => {
    watchdog.progress();
    if (o.expectResponseAfterWrite) watchdog.settleAll();
  };
  const onDrain = () => watchdog.progress();
  // FM-17: a peer FIN must not leave us half-open in CLOSE_WAIT forever.
  const onEnd = () => {
    if (!socket.writableEnded) socket.end();
  };
  const onClose = () => {
    holders.set(guard, 1);
    guard.dispose();
  };
  socket.on('drain', onDrain);
  socket.on('end', onEnd);
  socket.once('close', onClose);

  // Reads are observed where net pushes them into the stream, not with a
  // 'data' listener: that would switch the socket to flowing mode and lose
  // bytes nobody reads yet.
  const ownPush = Object.hasOwn(socket, 'push');
  const originalPush = socket.push;
  socket.push = function push(this: net.Socket, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null) onData();
    return originalPush.call(this, chunk, encoding);
  };
  // Every write may leave data in user space (watch it drain) and, for
  // request/response protocols, opens a response expectation. Hooked at
  // _write/_writev, where the stream hands data to the socket: net's
  // connect() resets an own `write` property, and corked writes arrive here
  // together at uncork.
  const onWrite = () => {
    watchdog.wrote();
    if (o.expectResponseAfterWrite) watchdog.expect();
  };
  const originalWriteOne = socket._write;
  const originalWriteMany = socket._writev;
  socket._write = function _write(this: net.Socket, ...args: Parameters<net.Socket['_write']>) {
    originalWriteOne.apply(this, args);
    onWrite();
  };
  if (originalWriteMany !== undefined) {
    socket._writev = function _writev(this: net.Socket, ...args: Parameters<NonNullable<net.Socket['_writev']>>) {
      originalWriteMany.apply(this, args);
      onWrite();
    };
  }

  let disposed = false;
  const guard: SocketGuard = {
    socket,
    options: Object.freeze({ ...o }),
    applied,
    expect: () => watchdog.expect(),
    settle: () => watchdog.settle(),
    [Symbol.dispose]() {
      guard.dispose();
    },
    dispose() {
      if (disposed) return;
      const refs = holders.get(guard) ?? 1;
      if (refs > 1) {
        holders.set(guard, refs - 1);
        return;
      }
      disposed = true;
      if (guardOf(socket) === guard) delete (socket as unknown as Record<symbol, unknown>)[kGuard];
      watchdog.dispose();
      socket.off('drain', onDrain);
      socket.off('end', onEnd);
      socket.off('connect', onConnect);
      socket.off('close', onClose);
      delete (socket as Partial<net.Socket>)._write;
      delete (socket as Partial<net.Socket>)._writev;
      if (ownPush) socket.push = originalPush;
      else delete (socket as Partial<net.Socket>).push;
    },
  };
  Object.defineProperty(socket, kGuard, { value: guard, configurable: true });
  return guard;
}

/** The guard {@link harden} attached to `socket`, if any. */
export function guardOf(socket: net.Socket): SocketGuard | undefined {
  return (socket as unknown as Record<symbol, SocketGuard | undefined>)[kGuard];
}

/** Why native options are unavailable here, or undefined. */
export { nativeUnavailableReason };
