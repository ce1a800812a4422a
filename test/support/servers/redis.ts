import type { ChildProcess } from 'node:child_process';
import { exited, findBinary, freePort, inNamespace, type ServerProcess, signalAll, spawnUntil } from './process.js';

/** A throw-away Redis (127.0.0.1 unless told): no persistence, a child process of the test. */
export interface RedisServer extends ServerProcess {
  /** SIGTERM, then start again on the same port (no persistence: the data is gone). */
  restart(): Promise<void>;
}

const binary = () => findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);

/** Why Redis tests cannot run here, or undefined when they can. */
export function redisUnavailable(): string | undefined {
  return binary() === undefined ? 'no redis-server binary (apt-get install redis-server)' : undefined;
}

/** Starts `redis-server`; `config` become `--key value` (e.g. `{ timeout: 2 }`). */
export async function startRedis(config: Record<string, string | number> = {}, options: { host?: string; namespace?: string } = {}): Promise<RedisServer> {
  const found = binary();
  if (found === undefined) throw new Error(redisUnavailable());
  const port = await freePort();
  const host = options.host ?? '127.0.0.1';
  // protected-mode refuses clients from other hosts (the test process, when Redis runs in a namespace).
  const settings = { port, bind: host, 'protected-mode': 'no', save: '', appendonly: 'no', daemonize: 'no', dir: '/tmp', ...config };
  const [file, args] = inNamespace(
    options.namespace,
    found,
    Object.entries(settings).flatMap(([k, v]) => [`--${k}`, String(v)]),
  );
  // `ip netns exec` execs redis-server itself: the child's pid is the server's.
  let child: ChildProcess = await spawnUntil(file, args, /Ready to accept connections/);
  let pid = child.pid as number;
  return {
    host,
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
    async kill() {
      signalAll([pid], 'SIGKILL');
      await exited(child);
    },
    async start() {
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
