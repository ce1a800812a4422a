import type net from 'node:net';
import { harden, type SocketOptions } from '@breakwater/socket';
import { buildConnector } from 'undici';
import { kReused } from './internal/symbols.js';

export interface ConnectorOptions {
  connectTimeoutMs: number;
  allowH2: boolean;
  socket: SocketOptions;
}

/**
 * undici's own connector (connect timeout, TLS sessions, ALPN, TCP_NODELAY)
 * with every socket hardened by @breakwater/socket in its callback. A custom
 * `connect` function would lose undici's connect timeout and keepalive, so we
 * wrap instead of replacing. Socket errors are tagged with whether the
 * socket had already carried an exchange: a reset on a *reused* connection
 * before any response byte is the stale keep-alive race (FM-07), safe to
 * resend once on a fresh connection.
 */
export function hardenedConnector(o: ConnectorOptions): buildConnector.connector {
  const connect = buildConnector({ timeout: o.connectTimeoutMs, allowH2: o.allowH2 });
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (err !== null || socket === null) {
        callback(err, null);
        return;
      }
      const s = socket as net.Socket;
      // msw's socket-level interceptor hands out sockets without an fd: harden() then
      // skips what needs one, but must never make a request fail.
      try {
        // HTTP waits for a thinking server under its headers timeout and deadline: the watchdog guards
        // only our bytes (unacknowledged, TCP_INFO) unless the caller asks for the raw-protocol rule.
        harden(s, { ...o.socket, expectResponseAfterWrite: o.socket.expectResponseAfterWrite ?? false });
      } catch {}
      s.prependListener('error', (e: unknown) => {
        if (typeof e === 'object' && e !== null && Object.isExtensible(e)) (e as Record<symbol, boolean>)[kReused] = s.bytesRead > 0;
      });
      callback(null, socket);
    });
}

/** Whether `err` is a stale-socket failure: the peer closed a reused idle connection. */
export function isStaleSocketError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; socket?: { bytesRead?: number }; [kReused]?: boolean };
  if (e.code === 'UND_ERR_SOCKET') return (e.socket?.bytesRead ?? 0) > 0 || e[kReused] === true;
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return e[kReused] === true;
  return false;
}
