import type net from 'node:net';
import { FakeClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { StallWatchdog } from './StallWatchdog.js';
import type { TcpInfo } from './tcpInfo.js';

/** The socket surface the watchdog reads, with a kernel view the test sets. */
function fakeSocket() {
  const s = {
    writableLength: 0,
    bytesWritten: 100,
    bytesRead: 0,
    connecting: false,
    destroyed: false,
    error: undefined as (Error & { code?: string; hint?: string; details?: Record<string, unknown> }) | undefined,
    destroy(err?: Error) {
      s.destroyed = true;
      s.error = err;
    },
  };
  return s;
}

function info(over: Partial<TcpInfo>): TcpInfo {
  return { unacked: 0, bytesAcked: 1_000, lastAckRecvMs: 0, totalRetrans: 0, pmtu: 1500, ...over } as TcpInfo;
}

function setup(kernel: { current: TcpInfo | undefined }, timeoutMs = 1_000) {
  const clock = new FakeClock();
  const socket = fakeSocket();
  const dog = new StallWatchdog(
    socket as unknown as net.Socket,
    timeoutMs,
    clock,
    () => '198.18.0.2:80',
    () => kernel.current,
  );
  return { clock, socket, dog };
}

describe('StallWatchdog with TCP_INFO', () => {
  it('never fires while the peer has acknowledged our request and only thinks (unacked 0), and disarms', () => {
    const kernel = { current: info({ unacked: 0 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    for (let i = 0; i < 30; i++) clock.advance(1_000);
    expect(socket.destroyed).toBe(false);
    expect(dog.armed).toBe(false);
  });

  it('[Symbol.dispose] clears its timer: nothing fires afterwards', () => {
    const kernel = { current: info({ unacked: 3, lastAckRecvMs: 5_000 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    expect(clock.pendingTimers).toBe(1);
    dog[Symbol.dispose]();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(5_000);
    expect(socket.destroyed).toBe(false);
  });

  it('fires when segments stay unacknowledged and nothing comes back (FM-02), naming what it saw', () => {
    const kernel = { current: info({ unacked: 3, lastAckRecvMs: 5_000, bytesAcked: 500 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    clock.advance(999);
    expect(socket.destroyed).toBe(false);
    clock.advance(1);
    expect(socket.error).toMatchObject({ code: 'BW_ERR_STALLED', details: { observed: 'unacknowledged', unackedSegments: 3 } });
    expect(socket.error?.hint).toMatch(/Nothing at all came back/);
    expect(socket.error?.message).toMatch(/3 segments we sent unacknowledged/);
  });

  it('says PMTU when ACKs still arrive but the acknowledged count does not move', () => {
    const kernel = { current: info({ unacked: 4, lastAckRecvMs: 50, bytesAcked: 700 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    clock.advance(1_000); // first reading: recent ACK, a baseline
    expect(socket.destroyed).toBe(false);
    clock.advance(1_000);
    expect(socket.error?.hint).toMatch(/still sends ACKs.*PMTU black hole/);
  });

  it('a slow but moving upload is progress', () => {
    const kernel = { current: info({ unacked: 10, lastAckRecvMs: 20, bytesAcked: 0 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    for (let i = 1; i <= 20; i++) {
      kernel.current = info({ unacked: 10, lastAckRecvMs: 20, bytesAcked: i * 1_000 });
      clock.advance(900);
    }
    expect(socket.destroyed).toBe(false);
  });

  it('a closed receive window (slow reader) is backpressure, not a stall', () => {
    const kernel = { current: info({ unacked: 0, notsentBytes: 50_000, lastAckRecvMs: 8_000 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    socket.writableLength = 200_000;
    dog.wrote();
    for (let i = 0; i < 10; i++) clock.advance(1_000);
    expect(socket.destroyed).toBe(false);
  });

  it('an open expectation fires on silence with the ambiguous hint: slow, frozen, or lost (PMTU)', () => {
    const kernel = { current: info({ unacked: 0 }) as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.expect();
    clock.advance(1_000);
    expect(socket.error).toMatchObject({ code: 'BW_ERR_STALLED', details: { observed: 'awaitingBytes' } });
    expect(socket.error?.hint).toMatch(/acknowledged everything.*slow or frozen.*PMTU black hole/);
  });
});

describe('StallWatchdog without TCP_INFO', () => {
  it('never fires once the request is fully written and we only wait; arms no timer for such writes', () => {
    const kernel = { current: undefined as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    dog.wrote();
    clock.advance(1_000); // learns there is no TCP_INFO here
    dog.wrote();
    expect(dog.armed).toBe(false);
    clock.advance(60_000);
    expect(socket.destroyed).toBe(false);
  });

  it('fires when written bytes wait in this process and do not drain', () => {
    const kernel = { current: undefined as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    socket.writableLength = 64 * 1024;
    dog.wrote();
    clock.advance(1_000);
    expect(socket.error).toMatchObject({ code: 'BW_ERR_STALLED', details: { observed: 'notDraining' } });
  });

  it('a draining buffer is progress', () => {
    const kernel = { current: undefined as TcpInfo | undefined };
    const { clock, socket, dog } = setup(kernel);
    socket.writableLength = 64 * 1024;
    dog.wrote();
    for (let i = 0; i < 10; i++) {
      socket.writableLength -= 4 * 1024;
      clock.advance(900);
    }
    expect(socket.destroyed).toBe(false);
  });
});
