import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * koffi is an optional dependency: an install without it (no prebuilt for
 * the platform, `--no-optional`, a locked-down image) must still give every
 * protection, with the JavaScript stall watchdog standing in for
 * TCP_USER_TIMEOUT. The child process makes `koffi` unresolvable with a
 * module hook — exactly what a missing package looks like to `require()` —
 * and uses the built package as an installed user would.
 */

const socketDist = new URL('../dist/index.js', import.meta.url).href;

const script = (hideKoffi: boolean) => `
  import { registerHooks } from 'node:module';
  import net from 'node:net';
  ${
    hideKoffi
      ? `registerHooks({
    resolve(specifier, context, next) {
      if (specifier === 'koffi') throw Object.assign(new Error("Cannot find module 'koffi'"), { code: 'MODULE_NOT_FOUND' });
      return next(specifier, context);
    },
  });`
      : ''
  }
  const { capabilities, connect, guardOf } = await import(${JSON.stringify(socketDist)});
  const server = net.createServer((s) => s.on('error', () => {})); // accepts, never answers
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const socket = await connect({ host: '127.0.0.1', port: server.address().port, stallTimeoutMs: 300 });
  const guard = guardOf(socket);
  const started = performance.now();
  const error = await new Promise((resolve) => {
    socket.once('error', resolve);
    guard.expect();
    socket.write('a request nobody answers');
  });
  server.close();
  console.log(JSON.stringify({
    native: capabilities().nativeBinding,
    userTimeout: capabilities().options.userTimeout,
    applied: guard.applied,
    stall: { code: error.code, ms: Math.round(performance.now() - started) },
  }));
`;

function run(hideKoffi: boolean) {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script(hideKoffi)], { encoding: 'utf8', timeout: 20_000 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim()) as {
    native: { available: boolean; reason?: string };
    userTimeout: string;
    applied: { noDelay: boolean; keepAlive: { mechanism: string; detectWithinMs: number }; userTimeout: { mechanism: string } };
    stall: { code: string; ms: number };
  };
}

describe.runIf(process.platform === 'linux')('without the optional koffi binding', () => {
  it('every socket still gets NODELAY, tuned keepalive and the stall watchdog in place of TCP_USER_TIMEOUT', () => {
    const r = run(true);
    expect(r.native.available).toBe(false);
    expect(r.native.reason).toMatch(/koffi did not load/);
    expect(r.userTimeout).toBe('emulated');
    expect(r.applied.noDelay).toBe(true);
    expect(r.applied.userTimeout.mechanism).toBe('emulated');
    expect(r.applied.keepAlive.detectWithinMs).toBeLessThanOrEqual(20_000);
    expect(r.stall.code).toBe('BW_ERR_STALLED');
    expect(r.stall.ms).toBeGreaterThanOrEqual(295);
    expect(r.stall.ms).toBeLessThan(2_000);
  });

  it('control: the same child without the hook loads koffi, so the hook is what removed it', () => {
    const r = run(false);
    expect(r.native.available).toBe(true);
    expect(r.applied.userTimeout.mechanism).toBe('native');
    // The watchdog still runs beside TCP_USER_TIMEOUT for a peer that ACKs but never answers.
    expect(r.stall.code).toBe('BW_ERR_STALLED');
  });
});
