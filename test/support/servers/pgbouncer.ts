import type { ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, findBinary, freePort, processTree, signalAll, spawnUntil } from './process.js';

/** A throw-away PgBouncer on 127.0.0.1 in front of one PostgreSQL, trust auth, user `postgres`. */
export interface PgBouncerServer {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

const binary = () => findBinary('pgbouncer', ['/usr/sbin', '/usr/bin', '/usr/local/bin']);

/** Why PgBouncer tests cannot run here, or undefined when they can. */
export function pgbouncerUnavailable(): string | undefined {
  return binary() === undefined ? 'no pgbouncer binary (apt-get install pgbouncer)' : undefined;
}

/**
 * Starts `pgbouncer` (as the `postgres` user when root: it refuses to run as
 * root) in front of `upstream`; `settings` go into its `[pgbouncer]` section
 * (e.g. `{ pool_mode: 'transaction', default_pool_size: 2 }`).
 */
export async function startPgBouncer(upstream: { host: string; port: number }, settings: Record<string, string | number> = {}): Promise<PgBouncerServer> {
  const found = binary();
  if (found === undefined) throw new Error(pgbouncerUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'bw-pgbouncer-'));
  const port = await freePort();
  const config = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'users.txt'),
    pidfile: '',
    logfile: '',
    admin_users: 'postgres',
    ...settings,
  };
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `postgres = host=${upstream.host} port=${upstream.port} dbname=postgres user=postgres`,
      '[pgbouncer]',
      ...Object.entries(config).map(([k, v]) => `${k} = ${v}`),
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    if (line === undefined) throw new Error('no `postgres` user to run pgbouncer as (apt-get install postgresql creates it)');
    const [, , uid, gid] = line.split(':');
    for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, f), Number(uid), Number(gid));
  }
  const [cmd, args] = asRoot ? ['runuser', ['-u', 'postgres', '--', found, join(dir, 'pgbouncer.ini')]] : [found, [join(dir, 'pgbouncer.ini')]];
  let child: ChildProcess;
  try {
    child = await spawnUntil(cmd, args, /process up|listening on 127\.0\.0\.1/);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      // SIGTERM: immediate shutdown (SIGINT would wait for clients to leave); runuser and pgbouncer both.
      signalAll(child.pid === undefined ? [] : processTree(child.pid).reverse(), 'SIGTERM');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
