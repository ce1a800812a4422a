import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { cleanupOnExit } from '@breakwater/chaos';
import { programPath } from '../requirements.js';
import type { ScenarioContext } from '../types.js';
import { aborted } from './resilience-support.js';

/**
 * DC-04's PostgreSQL: a throw-away server (initdb into a temp dir, trust
 * auth, user and database `postgres`, 127.0.0.1 on a free port), stopped
 * and deleted by the scenario's defers; and a proxy in front of it that
 * loses the answer to a marked statement after the server ran it.
 */

const AS_ROOT = process.getuid?.() === 0;

/** What DC-04 needs on PATH (or in /usr/lib/postgresql/<version>/bin, Debian's layout). initdb refuses root: as root it runs as `postgres` through runuser. */
export const POSTGRES_PROGRAMS: readonly string[] = AS_ROOT ? ['initdb', 'postgres', 'runuser'] : ['initdb', 'postgres'];

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`no \`${name}\` user to run initdb as (installing PostgreSQL's package creates it)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const command = (program: string, args: string[]): [string, string[]] => {
  const file = programPath(program) ?? program;
  return AS_ROOT ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
};

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Starts PostgreSQL; resolves to its port once it accepts connections. */
export async function startPostgres(ctx: ScenarioContext): Promise<{ host: string; port: number }> {
  ctx.signal.throwIfAborted();
  const dir = mkdtempSync(path.join(tmpdir(), 'bw-scorecard-pg-'));
  // Also removed on exit, SIGINT and SIGTERM (chaos's registry), should the defers never run.
  const forgetDir = cleanupOnExit({ path: dir });
  ctx.defer(() => {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    forgetDir();
  });
  if (AS_ROOT) {
    const { uid, gid } = userIds('postgres');
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const [init, initArgs] = command('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  // Not execFileSync: the scenarios beside this one keep their event loop while initdb runs.
  await promisify(execFile)(init, initArgs, { timeout: 30_000, signal: ctx.signal });
  const port = await freePort();
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: dir, fsync: 'off', log_min_messages: 'warning' };
  const [cmd, args] = command('postgres', ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])]);
  // Its own process group (runuser and the postmaster in it), SIGKILLed on exit, SIGINT and SIGTERM by
  // chaos's registry: PostgreSQL does not notice that the process that started it died.
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const forgetGroup = child.pid === undefined ? () => {} : cleanupOnExit({ pid: -child.pid });
  // Cancelled once the race is decided: an 8 s or 30 s timer left behind keeps the CLI alive after its report.
  const timers = new AbortController();
  const timeout = (ms: number) => sleep(ms, undefined, { signal: timers.signal }).catch(() => new Promise<never>(() => {}));
  ctx.defer(async () => {
    // Fast shutdown of the postmaster (as root the child is runuser, which exits with it), then SIGKILL.
    let postmaster: number | undefined;
    try {
      postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // Never started: only the child to end.
    }
    for (const pid of [postmaster, child.pid]) if (pid !== undefined && pid > 0) signal(pid, 'SIGINT');
    const stop = new AbortController();
    try {
      if (await Promise.race([exited(child).then(() => true), sleep(8_000, false, { signal: stop.signal })])) return;
      for (const pid of [postmaster, child.pid]) if (pid !== undefined && pid > 0) signal(pid, 'SIGKILL');
      await Promise.race([exited(child), sleep(2_000, undefined, { signal: stop.signal })]);
    } finally {
      stop.abort();
      forgetGroup();
    }
  });
  let log = '';
  const started = Promise.race([
    new Promise<void>((resolve, reject) => {
      child.stderr?.setEncoding('utf8').on('data', (c: string) => {
        log = (log + c).slice(-4_000);
        if (/ready to accept connections/.test(log)) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`postgres exited (${code}) before accepting connections: ${log.trim()}`)));
    }),
    aborted(ctx),
    timeout(30_000).then(() => Promise.reject(new Error(`postgres did not start within 30 s: ${log.trim()}`))),
  ]);
  try {
    await started;
  } finally {
    timers.abort();
  }
  return { host: '127.0.0.1', port };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** PostgreSQL's ReadyForQuery ('Z', length 5): sent after the statement ran and its implicit transaction committed. */
const READY_FOR_QUERY = Buffer.from([0x5a, 0, 0, 0, 5]);

export interface CuttingProxy {
  port: number;
  /** The next statement containing `/*bw-cut:<name>*\/` runs on the server, and its answer is lost: the client's connection is reset. */
  arm(name: string): void;
  /** How many times a statement marked `name` went through (attempts sent). */
  sent(name: string): number;
}

/** A TCP proxy to `target` that resets the client's connection instead of forwarding the answer to an armed statement. */
export async function cuttingProxy(ctx: ScenarioContext, target: { host: string; port: number }): Promise<CuttingProxy> {
  const armed = new Set<string>();
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let cutting = false;
    let held = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(/\/\*bw-cut:([\w-]+)\*\//g)) {
        const name = m[1]!;
        counts.set(name, (counts.get(name) ?? 0) + 1);
        if (armed.delete(name)) cutting = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!cutting) return void client.write(chunk);
      held = Buffer.concat([held, chunk]);
      if (!held.includes(READY_FOR_QUERY)) return;
      upstream.destroy();
      client.resetAndDestroy();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
    }
  });
  ctx.defer(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    arm: (name) => void armed.add(name),
    sent: (name) => counts.get(name) ?? 0,
  };
}
