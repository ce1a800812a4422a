import net from 'node:net';
import type { Clock } from '@breakwater/core';
import { connect, guardOf, harden, SOCKET_DEFAULTS, type SocketOptions } from '@breakwater/socket';
import type { Probe, ResolvedPoolOptions } from '../defaults.js';

const SOCKET_KEYS = Object.keys(SOCKET_DEFAULTS);

/** Opens one connection with the caller's factory (hardened if it is not yet) or `@breakwater/socket`'s connect(). */
export async function openSocket(o: ResolvedPoolOptions, signal: AbortSignal): Promise<net.Socket> {
  if (o.connect === undefined) return connect({ ...o.socket, host: o.host, port: o.port!, signal });
  const socket = await o.connect({ signal });
  if (socket instanceof net.Socket && guardOf(socket) === undefined) {
    const socketOptions: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o.socket)) if (SOCKET_KEYS.includes(k)) socketOptions[k] = v;
    harden(socket, socketOptions as SocketOptions);
  }
  return socket;
}

/**
 * Runs the caller's probe under `timeoutMs`. Resolves true only for a probe
 * that returned something other than `false` in time; a throw, a rejection,
 * a timeout or the pool draining resolve false. Never rejects: generic-pool
 * leaks a resource whose validation rejects, and so would any caller that
 * forgot a catch (DEPENDENCIES.md).
 */
export function runProbe(probe: Probe, socket: net.Socket, timeoutMs: number, clock: Clock, poolSignal: AbortSignal): Promise<boolean> {
  const controller = new AbortController();
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      poolSignal.removeEventListener('abort', onPoolAbort);
      if (!ok) controller.abort();
      resolve(ok);
    };
    const onPoolAbort = () => finish(false);
    const timer = clock.setTimeout(() => finish(false), timeoutMs);
    poolSignal.addEventListener('abort', onPoolAbort, { once: true });
    if (poolSignal.aborted) return finish(false);
    try {
      Promise.resolve(probe(socket, controller.signal)).then(
        (result) => finish(result !== false),
        () => finish(false),
      );
    } catch {
      finish(false);
    }
  });
}
