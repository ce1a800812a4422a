import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The haproxy binary on PATH (or in /usr/sbin, where Debian puts it), or undefined. */
export function haproxyBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, 'haproxy');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound and released; HAProxy cannot report the port it picked). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Haproxy {
  readonly pid: number | undefined;
  /** stdout and stderr so far (warnings, alerts). */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 2 s) and removes its temp dir; idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Writes `config` to a temp dir and runs `haproxy -f <cfg> -db` (foreground)
 * as a child process; resolves once every port in `ports` accepts connections.
 */
export async function startHaproxy(binary: string, config: string, ports: readonly number[], timeoutMs = 5_000): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config);
  const child = spawn(binary, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d));
  child.stderr?.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  const haproxy: Haproxy = {
    pid: child.pid,
    output: () => out,
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
          await exited;
          clearTimeout(timer);
        }
        running.delete(child);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await haproxy.stop();
      throw new Error(`haproxy exited (${child.exitCode ?? child.signalCode}) before listening:\n${out}`);
    }
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) return haproxy;
    if (performance.now() > deadline) {
      await haproxy.stop();
      throw new Error(`haproxy did not listen on ${ports.join(', ')} within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
