import type { ChildProcess } from 'node:child_process';
import { exited, findBinary, freePort, signalAll, spawnUntil } from './process.js';

/** A throw-away Redis on 127.0.0.1: no persistence, a child process of the test. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** SIGSTOP the server: connections stay open, nothing answers. */
  freeze(): void;
  resume(): void;
  /** SIGTERM, then start again on the same port (no persistence: the data is gone). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const binary = () => findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);

/** Why Redis tests cannot run here, or undefined when they can. */
export function redisUnavailable(): string | undefined {
  return binary() === undefined ? 'no redis-server binary (apt-get install redis-server)' : undefined;
}

/** Starts `redis-server`; `config` become `--key value` (e.g. `{ timeout: 2 }`). */
export async function startRedis(config: Record<string, string | number> = {}): Promise<RedisServer> {
  const file = binary();
  if (file === undefined) throw new Error(redisUnavailable());
  const port = await freePort();
  const settings = { port, bind: '127.0.0.1', save: '', appendonly: 'no', daemonize: 'no', dir: '/tmp', ...config };
  const args = Object.entries(settings).flatMap(([k, v]) => [`--${k}`, String(v)]);
  let child: ChildProcess = await spawnUntil(file, args, /Ready to accept connections/);
  let pid = child.pid as number;
  return {
    host: '127.0.0.1',
    port,
    freeze: () => signalAll([pid], 'SIGSTOP'),
    resume: () => signalAll([pid], 'SIGCONT'),
    async restart() {
      signalAll([pid], 'SIGCONT');
      signalAll([pid], 'SIGTERM');
      await exited(child);
      child = await spawnUntil(file, args, /Ready to accept connections/);
      pid = child.pid as number;
    },
    async stop() {
      signalAll([pid], 'SIGCONT');
      signalAll([pid], 'SIGTERM');
      await exited(child);
    },
  };
}
