import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The first existing file among `candidates`, or a name found on PATH. */
export function findBinary(name: string, dirs: readonly string[]): string | undefined {
  const path = (process.env.PATH ?? '').split(':');
  for (const dir of [...dirs, ...path]) {
    const file = `${dir}/${name}`;
    if (dir !== '' && existsSync(file)) return file;
  }
  return undefined;
}

/** Spawns a server and resolves once a line of its output matches `ready`. */
export function spawnUntil(command: string, args: readonly string[], ready: RegExp, timeoutMs = 20_000): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${command} not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${command} exited with ${code}:\n${output}`)));
  });
}

/** `pid` and its direct children (PostgreSQL backends are children of the postmaster). */
export function processTree(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name is in parentheses and may hold spaces: the ppid follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return [pid, ...children];
}

/** Sends `signal` to each pid, ignoring the ones that are gone. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

export function exited(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `[command, args]`, run inside network namespace `namespace` when one is given (`ip netns exec` execs the command: same pid). */
export function inNamespace(namespace: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return namespace === undefined ? [command, [...args]] : ['ip', ['netns', 'exec', namespace, command, ...args]];
}

/** What every throw-away server of test/support/servers can do to itself; each names what its variant means. */
export interface ServerProcess {
  readonly host: string;
  readonly port: number;
  /** SIGSTOP: connections stay open, nothing answers. */
  freeze(): void;
  /** SIGCONT what `freeze()` stopped. */
  resume(): void;
  /** Stops (gracefully), then starts again on the same port. */
  restart(): Promise<void>;
  /** SIGKILL: no shutdown message; the kernel still sends FIN/RST unless the port is blackholed. */
  kill(): Promise<void>;
  /** Starts again on the same port (after `kill()`). */
  start(): Promise<void>;
  stop(): Promise<void>;
}
