import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HOOKS = fileURLToPath(new URL('./ts-hooks.ts', import.meta.url));
const PROGRAM = fileURLToPath(new URL('./ack-pg-server.ts', import.meta.url));

export interface AckChildConfig {
  port: number;
  pgPort: number;
  store: 'pg' | 'memory';
  hang?: 'claim' | 'handler' | 'commit';
  txIdleTimeoutMs?: number;
}

/** An ack server process (test/support/ack-pg-server.ts): its JSON output lines, and ways to end it. */
export interface AckChild {
  readonly pid: number;
  readonly lines: unknown[];
  readonly exited: Promise<void>;
  /** Resolves once a line of output satisfies `match`. */
  waitFor(match: (line: unknown) => boolean, timeoutMs?: number): Promise<void>;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL (after SIGCONT, in case it was stopped) and wait for the exit. */
  kill(): Promise<void>;
}

export async function startAckChild(config: AckChildConfig): Promise<AckChild> {
  const child: ChildProcess = spawn(process.execPath, ['--import', HOOKS, PROGRAM, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: unknown[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p));
      } catch {
        lines.push(p);
      }
    }
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4_000);
  });
  let done = false;
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      done = true;
      for (const l of listeners) l();
      r();
    }),
  );
  const waitFor = (match: (line: unknown) => boolean, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (lines.some(match)) finish();
        else if (done) finish(new Error(`ack child exited (${child.exitCode ?? child.signalCode}) before the expected line:\n${stderr}`));
      };
      const timer = setTimeout(() => finish(new Error(`ack child: no expected line within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
      const finish = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      listeners.add(check);
      check();
    });
  const handle: AckChild = {
    pid: child.pid!,
    lines,
    exited,
    waitFor,
    signal: (s) => {
      if (!done) child.kill(s);
    },
    kill: async () => {
      if (!done) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
  try {
    await waitFor((l) => typeof l === 'object' && l !== null && 'port' in l);
  } catch (error) {
    await handle.kill();
    throw error;
  }
  return handle;
}

/** `n` distinct free ports on 127.0.0.1 (all held open until each is known, so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const { default: net } = await import('node:net');
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
