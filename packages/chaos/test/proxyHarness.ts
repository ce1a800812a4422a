import { once } from 'node:events';
import net from 'node:net';
import { type Clock, monotonicClock, type TimerHandle } from '@breakwater/core';
import { afterEach } from 'vitest';
import { createFaultProxy, type FaultProxy } from '../src/proxy/FaultProxy.js';
import type { FaultSpec } from '../src/proxy/faults.js';

// Shared helpers for the fault proxy's tests: real sockets on 127.0.0.1:0,
// every server, client and proxy registered for cleanup so a failing test
// cannot leak into the next. Outside src/ so it is never built into dist/.

export interface TestServer {
  port: number;
  /** Server-side sockets, including closed ones. */
  sockets: net.Socket[];
  /** Everything the server received, in order (only filled when started with `record`). */
  received: Buffer[];
}

export interface ProxyHarnessOptions {
  /** Default time limit of `waitUntil`, in ms. */
  waitMs?: number;
  /** How often `waitUntil` polls its predicate, in ms. */
  pollMs?: number;
}

/**
 * Registers an afterEach hook in the calling test file that runs `cleanups` in
 * reverse order, and returns helpers that register what they open there.
 */
export function useProxyHarness({ waitMs = 2_000, pollMs = 5 }: ProxyHarnessOptions = {}) {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  /** An echo server by default; with `record`, keeps every chunk it receives in `received`. */
  async function startServer(
    onConnection: (socket: net.Socket) => void = (s) => s.on('data', (d) => s.write(d)),
    { record = false }: { record?: boolean } = {},
  ): Promise<TestServer> {
    const sockets: net.Socket[] = [];
    const received: Buffer[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      if (record) socket.on('data', (d: Buffer) => received.push(d));
      onConnection(socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    return { port: (server.address() as net.AddressInfo).port, sockets, received };
  }

  async function proxyTo(port: number, extra: Omit<Parameters<typeof createFaultProxy>[0], 'target'> = {}): Promise<FaultProxy> {
    const proxy = await createFaultProxy({ target: { host: '127.0.0.1', port }, ...extra });
    cleanups.push(() => proxy.close());
    return proxy;
  }

  async function connect(proxy: FaultProxy, clientOptions: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
    const socket = net.connect({ host: proxy.host, port: proxy.port, ...clientOptions });
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    return socket;
  }

  /** A recording server (echo unless `onConnection` says otherwise), a proxy to it with `faults`, and a client connected through it. */
  async function setup(faults: FaultSpec[], onConnection?: (socket: net.Socket) => void, clientOptions: { allowHalfOpen?: boolean } = {}) {
    const server = await startServer(onConnection, { record: true });
    const proxy: FaultProxy = await createFaultProxy({ target: { port: server.port }, faults });
    cleanups.push(() => proxy.close());
    const client = await connect(proxy, clientOptions);
    return { server, proxy, client };
  }

  function waitUntil(predicate: () => boolean, ms = waitMs): Promise<void> {
    const deadline = Date.now() + ms;
    return new Promise((resolve, reject) => {
      const tick = () => {
        if (predicate()) resolve();
        else if (Date.now() > deadline) reject(new Error('condition not met in time'));
        else setTimeout(tick, pollMs);
      };
      tick();
    });
  }

  return { cleanups, startServer, proxyTo, connect, setup, waitUntil };
}

/** What happens next on `socket`: data, an error code, end, or nothing within `ms`. */
export function nextEvent(socket: net.Socket, ms = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const done = (what: string) => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('end', onEnd);
      resolve(what);
    };
    const onData = (d: Buffer) => done(`data:${d.toString()}`);
    const onError = (e: NodeJS.ErrnoException) => done(`error:${e.code}`);
    const onEnd = () => done('end');
    const timer = setTimeout(() => done('timeout'), ms);
    socket.on('data', onData).on('error', onError).on('end', onEnd);
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The real clock, keeping count of the timers not yet fired or cleared. */
export function countingClock(): { clock: Clock; live: Set<TimerHandle> } {
  const live = new Set<TimerHandle>();
  const clock: Clock = {
    now: () => monotonicClock.now(),
    setTimeout(callback, delayMs) {
      const handle = monotonicClock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, delayMs);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      if (handle !== undefined) live.delete(handle);
      monotonicClock.clearTimeout(handle);
    },
  };
  return { clock, live };
}
