import type net from 'node:net';
import { publisher } from '@breakwater/core';
import { type ResolvedSocketOptions, resolveSocketOptions, type SocketOptions } from './defaults.js';
import { DARWIN, LINUX, nativeUnavailableReason, setTcpOption } from './internal/native.js';
import { StallWatchdog } from './StallWatchdog.js';
import { readTcpInfo } from './tcpInfo.js';

const publish = publisher('socket');
const kGuard = Symbol.for('breakwater.socket.guard');

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
 * Options resolved once and shared by every socket hardened with them: a frozen options object passed
 * again (the HTTP connector passes one per connector) is not resolved again, and sockets with the same
 * outcome share one frozen `applied` record. Keyed weakly, so nothing outlives its options.
 */
const resolvedFor = new WeakMap<object, Readonly<ResolvedSocketOptions>>();
const appliedFor = new WeakMap<object, Map<string, Readonly<AppliedOptions>>>();
const NO_OPTIONS = Object.freeze({});

function resolve(options: SocketOptions | undefined): Readonly<ResolvedSocketOptions> {
  const given = options ?? NO_OPTIONS;
  const cached = resolvedFor.get(given);
  if (cached !== undefined) return cached;
  const o = Object.freeze(resolveSocketOptions(given, 'harden()'));
  // A frozen object cannot change later (its clock is a reference either way): safe to remember.
  if (Object.isFrozen(given)) {
    resolvedFor.set(given, o);
    appliedFor.set(o, new Map());
  }
  return o;
}

/**
 * Linux: with TCP_USER_TIMEOUT set, keepalive drops the peer at the first probe tick
 * (idle + k × interval, k ≥ 1) by which the user timeout has passed, whatever the count
 * (tcp_keepalive_timer): 5 + 3 × 2 = 11 s for the defaults, not 5 + 2 × 5 = 15 s.
 */
function underUserTimeout(keepAlive: AppliedOptions['keepAlive'], userTimeout: AppliedOptions['userTimeout']): AppliedOptions['keepAlive'] {
  if (userTimeout.mechanism !== 'native' || process.platform !== 'linux' || !Number.isFinite(keepAlive.detectWithinMs)) return keepAlive;
  const ticks = Math.max(1, Math.ceil((userTimeout.timeoutMs - keepAlive.idleMs) / keepAlive.intervalMs));
  return { ...keepAlive, detectWithinMs: keepAlive.idleMs + ticks * keepAlive.intervalMs };
}

function apply(socket: net.Socket, o: Readonly<ResolvedSocketOptions>, connected: boolean): Readonly<AppliedOptions> {
  const userTimeout = applyUserTimeout(socket, o, connected);
  const keepAlive = underUserTimeout(applyKeepAlive(socket, o, connected), userTimeout);
  // Both records follow from the options and their mechanisms: one frozen copy per outcome for shared options.
  const byOutcome = appliedFor.get(o);
  const key = `${keepAlive.mechanism}/${userTimeout.mechanism}/${userTimeout.timeoutMs}`;
  let applied = byOutcome?.get(key);
  if (applied === undefined) {
    applied = Object.freeze({
      noDelay: o.noDelay,
      keepAlive: Object.freeze(keepAlive),
      userTimeout: Object.freeze(userTimeout),
      stallTimeoutMs: o.stallTimeoutMs,
    });
    byOutcome?.set(key, applied);
  }
  return applied;
}

/**
 * One hardened socket: its watchdog, the hooks' saved originals and how many `harden()` calls hold it.
 * Its listeners and hooks are shared functions that find it through the socket (`this[kGuard]`), so a
 * connection costs this object and its watchdog, not a set of closures.
 */
class Guard implements SocketGuard {
  readonly socket: net.Socket;
  readonly options: Readonly<ResolvedSocketOptions>;
  applied: Readonly<AppliedOptions>;
  readonly watchdog: StallWatchdog;
  /** `harden()` calls sharing this guard, not yet released (a `using` in a helper must not strip its owner's protection). */
  holds = 1;
  released = false;
  readonly ownPush: boolean;
  readonly originalPush: net.Socket['push'];
  readonly originalWrite: net.Socket['_write'];
  readonly originalWritev: net.Socket['_writev'];

  constructor(socket: net.Socket, o: Readonly<ResolvedSocketOptions>, connected: boolean) {
    this.socket = socket;
    this.options = o;
    socket.setNoDelay(o.noDelay);
    // Before connect, a copy that connect completes (readers holding `applied` see it change, as before).
    const applied = apply(socket, o, connected);
    this.applied = connected ? applied : { ...applied };
    // TCP_INFO tells a peer that is thinking (our bytes acknowledged) from one that is gone.
    this.watchdog = new StallWatchdog(socket, o.stallTimeoutMs, o.clock, undefined, o.native ? readTcpInfo : undefined);
    this.ownPush = Object.hasOwn(socket, 'push');
    this.originalPush = socket.push;
    this.originalWrite = socket._write;
    this.originalWritev = socket._writev;
  }

  expect(): void {
    this.watchdog.expect();
  }

  settle(): void {
    this.watchdog.settle();
  }

  dispose(): void {
    if (this.released) return;
    if (this.holds > 1) {
      this.holds--;
      return;
    }
    this.release(true);
  }

  /** Stops every protection; `detach` also unhooks the guard so a later harden() starts anew (a closed socket keeps it, for guardOf()). */
  release(detach: boolean): void {
    if (this.released) return;
    this.released = true;
    const socket = this.socket;
    if (detach && guardOf(socket) === this) delete (socket as unknown as Record<symbol, unknown>)[kGuard];
    this.watchdog.dispose();
    socket.off('drain', onDrain);
    socket.off('end', onEnd);
    socket.off('connect', onConnect);
    socket.off('close', onClose);
    delete (socket as Partial<net.Socket>)._write;
    delete (socket as Partial<net.Socket>)._writev;
    if (this.ownPush) socket.push = this.originalPush;
    else delete (socket as Partial<net.Socket>).push;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Bytes arrived. */
  read(): void {
    this.watchdog.progress();
    if (this.options.expectResponseAfterWrite) this.watchdog.settleAll();
  }

  /** Data was handed to the socket: it may wait in user space (watch it drain) and may open a response expectation. */
  wrote(): void {
    this.watchdog.wrote();
    if (this.options.expectResponseAfterWrite) this.watchdog.expect();
  }
}

const guardIn = (socket: net.Socket) => (socket as unknown as Record<symbol, Guard | undefined>)[kGuard];

function onConnect(this: net.Socket): void {
  this.off('connect', onConnect);
  const guard = guardIn(this);
  if (guard === undefined) return;
  Object.assign(guard.applied, apply(this, guard.options, true));
  publish('hardened', { socket: this, applied: guard.applied });
}

function onDrain(this: net.Socket): void {
  guardIn(this)?.watchdog.progress();
}

// FM-17: a peer FIN must not leave us half-open in CLOSE_WAIT forever.
function onEnd(this: net.Socket): void {
  if (!this.writableEnded) this.end();
}

function onClose(this: net.Socket): void {
  guardIn(this)?.release(false);
}

// Reads are observed where net pushes them into the stream, not with a 'data' listener: that would
// switch the socket to flowing mode and lose bytes nobody reads yet. Writes are hooked at
// _write/_writev, where the stream hands data to the socket: net's connect() resets an own `write`
// property, and corked writes arrive here together at uncork. A hook left behind after its guard was
// released (someone kept a reference) passes through to the socket's own method.
function push(this: net.Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
  const guard = guardIn(this);
  if (guard === undefined) return Object.getPrototypeOf(this).push.call(this, chunk, encoding);
  if (chunk !== null) guard.read();
  return guard.originalPush.call(this, chunk, encoding);
}

function _write(this: net.Socket, ...args: Parameters<net.Socket['_write']>): void {
  const guard = guardIn(this);
  (guard?.originalWrite ?? Object.getPrototypeOf(this)._write).apply(this, args);
  guard?.wrote();
}

function _writev(this: net.Socket, ...args: Parameters<NonNullable<net.Socket['_writev']>>): void {
  const guard = guardIn(this);
  (guard?.originalWritev ?? Object.getPrototypeOf(this)._writev).apply(this, args);
  guard?.wrote();
}

/**
 * Applies Breakwater's protections to a socket someone else created (a
 * driver's, undici's connector's): NODELAY, keepalive idle/interval/count,
 * TCP_USER_TIMEOUT, the stall watchdog, and a full close when the peer sends
 * FIN. Works on connected and not-yet-connected sockets (options that need
 * the file descriptor are applied on `connect`). Calling it twice returns the
 * first guard, with one more holder: each caller's `dispose()` releases its own.
 * Pass the same frozen options object for many sockets and it is resolved once.
 *
 * @example
 * const guard = harden(net.connect(5432, 'db'), { stallTimeoutMs: 5_000 });
 * guard.applied.keepAlive.detectWithinMs; // 11000 on Linux (TCP_USER_TIMEOUT), else 15000
 */
export function harden(socket: net.Socket, options?: SocketOptions): SocketGuard {
  const existing = guardIn(socket);
  if (existing !== undefined) {
    existing.holds++;
    return existing;
  }
  const o = resolve(options);
  const connected = !socket.pending;
  const guard = new Guard(socket, o, connected);
  Object.defineProperty(socket, kGuard, { value: guard, configurable: true });

  if (connected) publish('hardened', { socket, applied: guard.applied });
  else socket.on('connect', onConnect);
  socket.on('drain', onDrain);
  socket.on('end', onEnd);
  socket.on('close', onClose);
  socket.push = push;
  socket._write = _write;
  if (guard.originalWritev !== undefined) socket._writev = _writev;
  return guard;
}

/** The guard {@link harden} attached to `socket`, if any. */
export function guardOf(socket: net.Socket): SocketGuard | undefined {
  return guardIn(socket);
}

/** Why native options are unavailable here, or undefined. */
export { nativeUnavailableReason };
