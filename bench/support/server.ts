/**
 * Starts bench/support/responder.ts in child processes (one per
 * `PORTS_PER_PROCESS` ports, so a process stays far below the usual 20,000
 * open-file limit with a connection on each port) and speaks its line
 * protocol. Every child is killed when this process exits, however it exits;
 * a child also exits by itself when its stdin (our end of the pipe) closes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';

export type ServerMode = 'canned' | 'http';
const PORTS_PER_PROCESS = 4_000;
const responder = new URL('./responder.ts', import.meta.url).pathname;

const children = new Set<ChildProcess>();
let hooked = false;
function killChildrenOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
  // Turn signals into a normal exit so the 'exit' hook runs.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => process.exit(130));
}

interface Stats {
  held: number;
  connections: number;
  requests: number;
}

class Shard {
  readonly child: ChildProcess;
  readonly #waiting: ((o: Record<string, unknown>) => void)[] = [];
  ports: number[] = [];

  constructor(mode: ServerMode, ports: number, bodyBytes: number) {
    this.child = spawn(process.execPath, [responder, '--mode', mode, '--ports', String(ports), '--body-bytes', String(bodyBytes)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    children.add(this.child);
    this.child.once('exit', () => children.delete(this.child));
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => this.#waiting.shift()?.(JSON.parse(line)));
  }

  /** The next line the child prints (its answer to the last command), or a rejection if it dies first. */
  next(timeoutMs = 60_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench server: no answer within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`bench server exited (${code})`));
      this.child.once('exit', onExit);
      this.#waiting.push((o) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(o);
      });
    });
  }

  send(command: string): Promise<Record<string, unknown>> {
    const answer = this.next();
    this.child.stdin!.write(`${command}\n`);
    return answer;
  }
}

export interface BenchServer {
  readonly mode: ServerMode;
  /** Every port listened on, all on 127.0.0.1. */
  readonly ports: readonly number[];
  /** The first port. */
  readonly port: number;
  /** From now on the server keeps every response until `release()`. */
  hold(): Promise<void>;
  /** Sends every held response and stops holding. */
  release(): Promise<void>;
  /** Summed over the server processes. */
  stats(): Promise<Stats>;
  /** Polls `stats()` until `held` reaches `n`; throws after `timeoutMs`. */
  waitHeld(n: number, timeoutMs?: number): Promise<Stats>;
  /** Closes every connection from the server side. */
  drop(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the responder on `ports` ports of 127.0.0.1 (default 1). */
export async function startServer(o: { mode?: ServerMode; ports?: number; bodyBytes?: number } = {}): Promise<BenchServer> {
  killChildrenOnExit();
  const mode = o.mode ?? 'canned';
  const total = o.ports ?? 1;
  const shards: Shard[] = [];
  for (let left = total; left > 0; left -= PORTS_PER_PROCESS) shards.push(new Shard(mode, Math.min(left, PORTS_PER_PROCESS), o.bodyBytes ?? 128));
  await Promise.all(
    shards.map(async (s) => {
      s.ports = (await s.next()).ports as number[];
    }),
  );
  const all = (command: string) => Promise.all(shards.map((s) => s.send(command)));
  const stats = async (): Promise<Stats> => {
    const sum = { held: 0, connections: 0, requests: 0 };
    for (const r of await all('stats')) for (const k of Object.keys(sum) as (keyof Stats)[]) sum[k] += r[k] as number;
    return sum;
  };
  const ports = shards.flatMap((s) => s.ports);
  return {
    mode,
    ports,
    port: ports[0]!,
    hold: async () => void (await all('hold')),
    release: async () => void (await all('release')),
    stats,
    async waitHeld(n, timeoutMs = 60_000) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const s = await stats();
        if (s.held >= n) return s;
        if (performance.now() > until) throw new Error(`bench server: ${s.held} of ${n} requests arrived within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    drop: async () => void (await all('drop')),
    async close() {
      await Promise.all(
        shards.map(
          (s) =>
            new Promise<void>((resolve) => {
              if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
              const kill = setTimeout(() => s.child.kill('SIGKILL'), 2_000);
              s.child.once('exit', () => {
                clearTimeout(kill);
                resolve();
              });
              s.child.stdin!.end();
            }),
        ),
      );
    },
  };
}
