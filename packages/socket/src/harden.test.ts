import net from 'node:net';
import { FakeClock } from '@breakwater/core';
import { afterEach, describe, expect, it } from 'vitest';
import { guardOf, harden } from './harden.js';
import { getTcpOption, LINUX, nativeUnavailableReason } from './internal/native.js';

const TCP_NODELAY = 1;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function server(onConnection: (s: net.Socket) => void = () => {}): Promise<net.Server> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return srv;
}

async function connected(srv: net.Server): Promise<net.Socket> {
  const { port } = srv.address() as net.AddressInfo;
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  cleanups.push(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  return s;
}

const closed = (s: net.Socket) => new Promise<Error | undefined>((r) => s.once('close', () => r(s.errored ?? undefined)));
const native = nativeUnavailableReason() === undefined;

describe('harden()', () => {
  it('turns Nagle off and sets keepalive and TCP_USER_TIMEOUT in the kernel', async () => {
    const s = await connected(await server());
    const guard = harden(s);
    expect(guard.applied.noDelay).toBe(true);
    // Linux with TCP_USER_TIMEOUT (10 s): the probe tick after it, 5 + 3 × 2 s; else 5 + 5 × 2 s.
    expect(guard.applied.keepAlive.detectWithinMs).toBe(guard.applied.userTimeout.mechanism === 'native' ? 11_000 : 15_000);
    expect(['node', 'native']).toContain(guard.applied.keepAlive.mechanism);
    // The native half applies only where koffi loads (withoutKoffi.test.ts covers the rest).
    if (process.platform === 'linux' && process.env.BREAKWATER_EXPECT_NATIVE === '1') expect(native, `native binding: ${nativeUnavailableReason()}`).toBe(true);
    if (!native) return;
    expect(getTcpOption(s, TCP_NODELAY)).toBe(1);
    expect(getTcpOption(s, LINUX.TCP_KEEPIDLE)).toBe(5);
    expect(getTcpOption(s, LINUX.TCP_KEEPINTVL)).toBe(2);
    expect(getTcpOption(s, LINUX.TCP_KEEPCNT)).toBe(5);
    expect(getTcpOption(s, LINUX.TCP_USER_TIMEOUT)).toBe(10_000);
    expect(guard.applied.userTimeout).toEqual({ mechanism: 'native', timeoutMs: 10_000 });
  });

  it('bounds keepalive detection by the probe tick after TCP_USER_TIMEOUT on Linux, not by the count', async () => {
    const s = await connected(await server());
    const keep = { keepAliveIdleMs: 10_000, keepAliveIntervalMs: 1_000, keepAliveCount: 5 };
    const g = harden(s, { ...keep, userTimeoutMs: 18_000 });
    const linuxNative = process.platform === 'linux' && g.applied.userTimeout.mechanism === 'native';
    // The kernel ignores the count once a user timeout is set: 10 + 8 × 1 s (measured 17.9 s), not 10 + 5 × 1 s.
    expect(g.applied.keepAlive.detectWithinMs).toBe(linuxNative ? 18_000 : 15_000);
    s.destroy();
    const t = await connected(await server());
    expect(harden(t, { ...keep, userTimeoutMs: 0 }).applied.keepAlive.detectWithinMs).toBe(15_000);
    // A user timeout before the first probe: dropped at the first tick after it.
    const u = await connected(await server());
    expect(harden(u, { ...keep, userTimeoutMs: 2_000 }).applied.keepAlive.detectWithinMs).toBe(linuxNative ? 11_000 : 15_000);
    t.destroy();
    u.destroy();
  });

  it('watches writes made before and after connect (net resets an own `write` on connect)', async () => {
    const clock = new FakeClock();
    const srv = await server();
    const { port } = srv.address() as net.AddressInfo;
    const s = new net.Socket();
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
    harden(s, { clock, stallTimeoutMs: 1_000 });
    const connectedNow = new Promise((r) => s.once('connect', r));
    s.connect(port, '127.0.0.1');
    s.write('queued before connect');
    await connectedNow;
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.pendingTimers).toBe(1);
    const done = closed(s);
    // The queued bytes drained at connect: that counts as progress, seen
    // lazily at the first check, so the stall is declared one period later.
    clock.advance(1_000);
    expect(s.destroyed).toBe(false);
    clock.advance(1_000);
    expect(await done).toMatchObject({ code: 'BW_ERR_STALLED' });
  });

  it('applies fd options on connect when given a socket that is still connecting', async () => {
    const srv = await server();
    const { port } = srv.address() as net.AddressInfo;
    const s = new net.Socket();
    cleanups.push(() => s.destroy());
    const guard = harden(s, { userTimeoutMs: 4_000 });
    expect(guard.applied.userTimeout.mechanism).toBe('pending');
    s.connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    expect(guard.applied.userTimeout.mechanism).toBe(native ? 'native' : 'emulated');
    if (native) expect(getTcpOption(s, LINUX.TCP_USER_TIMEOUT)).toBe(4_000);
  });

  it('falls back to the stall watchdog for TCP_USER_TIMEOUT when native is off', async () => {
    const s = await connected(await server());
    const guard = harden(s, { native: false });
    expect(guard.applied.userTimeout).toEqual({ mechanism: 'emulated', timeoutMs: 10_000 });
    if (native) expect(getTcpOption(s, LINUX.TCP_USER_TIMEOUT)).toBe(0);
  });

  it('is idempotent and reachable through guardOf(), also after the socket closed (what was applied stays readable)', async () => {
    const s = await connected(await server());
    const g = harden(s);
    expect(harden(s, { stallTimeoutMs: 1 })).toBe(g);
    expect(guardOf(s)).toBe(g);
    const done = closed(s);
    s.destroy();
    await done;
    expect(guardOf(s)?.applied.keepAlive.detectWithinMs).toBe(g.applied.userTimeout.mechanism === 'native' ? 11_000 : 15_000);
  });

  it("a `using` on a shared guard releases only its own hold: the owner's watchdog still fires; the last release lets harden() start anew", async () => {
    const clock = new FakeClock();
    const s = await connected(await server());
    const owner = harden(s, { clock, stallTimeoutMs: 3_000 });
    {
      using borrowed = harden(s);
      expect(borrowed).toBe(owner);
    }
    expect(guardOf(s)).toBe(owner);
    const done = closed(s);
    s.write('request');
    clock.advance(3_000);
    expect(((await done) as { code?: string } | undefined)?.code).toBe('BW_ERR_STALLED');

    const t = await connected(await server());
    const first = harden(t, { clock, stallTimeoutMs: 3_000 });
    first.dispose();
    expect(guardOf(t)).toBeUndefined();
    const again = harden(t, { clock, stallTimeoutMs: 2_000 });
    expect(again).not.toBe(first);
    const stalled = closed(t);
    t.write('request');
    clock.advance(2_000);
    expect(((await stalled) as { code?: string } | undefined)?.code).toBe('BW_ERR_STALLED');
  });

  it('shares one resolved options object, one applied record and the same listeners across sockets (no closures per connection)', async () => {
    const srv = await server();
    const [a, b] = [await connected(srv), await connected(srv)];
    const shared = Object.freeze({ stallTimeoutMs: 4_000 });
    const [ga, gb] = [harden(a, shared), harden(b, shared)];
    expect(ga).not.toBe(gb);
    expect(ga.options).toBe(gb.options);
    expect(Object.isFrozen(ga.options)).toBe(true);
    expect(ga.options.stallTimeoutMs).toBe(4_000);
    expect(ga.applied).toBe(gb.applied);
    for (const event of ['drain', 'end', 'close'] as const) expect(a.listeners(event).at(-1)).toBe(b.listeners(event).at(-1));
    expect(a._write).toBe(b._write);
    // A fresh (unfrozen) object may change between calls: resolved each time, same result.
    const c = await connected(srv);
    expect(harden(c, { stallTimeoutMs: 4_000 }).options).not.toBe(ga.options);
    expect(guardOf(c)?.options).toEqual(ga.options);
  });

  it('does not switch the socket into flowing mode (no bytes are lost)', async () => {
    const s = await connected(await server((c) => c.write('hello')));
    harden(s);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.readableFlowing).toBe(null);
    const chunk = await new Promise<Buffer>((r) => s.once('data', r));
    expect(chunk.toString()).toBe('hello');
  });

  it('destroys with BW_ERR_STALLED when a response never comes (fake clock)', async () => {
    const clock = new FakeClock();
    const s = await connected(await server());
    harden(s, { clock, stallTimeoutMs: 3_000 });
    const done = closed(s);
    s.write('request');
    clock.advance(2_999);
    expect(s.destroyed).toBe(false);
    clock.advance(1);
    const err = await done;
    expect(err).toMatchObject({ code: 'BW_ERR_STALLED', retryable: true });
    expect((err as Error & { hint: string }).hint).toMatch(/PMTU black hole/);
    expect((err as Error).message).toContain('127.0.0.1:');
  });

  it('does not stall an answered exchange, nor an idle connection afterwards', async () => {
    const clock = new FakeClock();
    const s = await connected(await server((c) => c.on('data', (d) => c.write(d))));
    const guard = harden(s, { clock, stallTimeoutMs: 1_000 });
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    s.write('ping');
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(got).toString()).toBe('ping');
    clock.advance(5_000);
    expect(s.destroyed).toBe(false);
    // An explicit expectation outlives the first byte until settled.
    guard.expect();
    s.write('x');
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(999);
    expect(s.destroyed).toBe(false);
    guard.settle();
    clock.advance(5_000);
    expect(s.destroyed).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps an explicit expectation open across partial data and stalls when data stops', async () => {
    const clock = new FakeClock();
    let peer: net.Socket | undefined;
    const s = await connected(await server((c) => (peer = c)));
    const guard = harden(s, { clock, stallTimeoutMs: 1_000, expectResponseAfterWrite: false });
    s.on('data', () => {});
    guard.expect();
    peer!.write('part 1');
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(900);
    peer!.write('part 2');
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(900);
    expect(s.destroyed).toBe(false);
    const done = closed(s);
    clock.advance(200);
    expect(await done).toMatchObject({ code: 'BW_ERR_STALLED' });
  });

  it('closes fully when the peer sends FIN (no CLOSE_WAIT, FM-17), even with allowHalfOpen', async () => {
    const srv = await server((c) => c.end());
    const { port } = srv.address() as net.AddressInfo;
    const s = new net.Socket({ allowHalfOpen: true });
    cleanups.push(() => s.destroy());
    harden(s);
    s.resume();
    const done = closed(s);
    s.connect(port, '127.0.0.1');
    await done;
    expect(s.destroyed).toBe(true);
  });

  it('clears its timer and restores write/push when the socket closes', async () => {
    const clock = new FakeClock();
    const s = await connected(await server());
    harden(s, { clock });
    s.write('x');
    expect(clock.pendingTimers).toBe(1);
    expect(Object.hasOwn(s, '_write')).toBe(true);
    const done = closed(s);
    s.destroy();
    await done;
    expect(clock.pendingTimers).toBe(0);
    expect(Object.hasOwn(s, '_write')).toBe(false);
    expect(Object.hasOwn(s, 'push')).toBe(false);
  });

  it('rejects bad options naming the key', async () => {
    const s = await connected(await server());
    expect(() => harden(s, { keepAliveIdleMs: 500 })).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'keepAliveIdleMs' } }));
    expect(() => harden(s, { stallTimeoutMs: -1 })).toThrow(/`stallTimeoutMs`/);
    expect(() => harden(s, { timeout: 1 } as never)).toThrow(/Unknown option `timeout`/);
    expect(() => harden(s, { clock: {} as never })).toThrow(/`clock`/);
  });

  it('never crashes on a socket without a file descriptor (msw interceptor, Windows)', () => {
    const s = new net.Socket();
    Object.defineProperty(s, '_handle', { value: { fd: -1, setNoDelay() {}, setKeepAlive() {} }, configurable: true });
    const guard = harden(s);
    s.emit('connect');
    expect(guard.applied.userTimeout.mechanism).toBe('emulated');
    const listening = s.listenerCount('close');
    guard[Symbol.dispose]();
    guard.dispose(); // idempotent
    expect(listening).toBeGreaterThan(0);
    expect(s.listenerCount('close')).toBe(0);
  });
});
