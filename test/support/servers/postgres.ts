import { type ChildProcess, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, findBinary, freePort, inNamespace, processTree, type ServerProcess, signalAll, spawnUntil } from './process.js';

/** A throw-away PostgreSQL (127.0.0.1 unless told), trust auth, user `postgres`, database `postgres`. */
export interface PostgresServer extends ServerProcess {
  /** SIGSTOP the postmaster and every backend: the server freezes without closing a socket. */
  freeze(): void;
  /** Fast shutdown (open sessions are aborted), then start again on the same port and data dir. */
  restart(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {
    // Not the Debian layout: rely on PATH.
  }
  const initdb = findBinary(
    'initdb',
    versions.map((v) => `${root}/${v}/bin`),
  );
  return initdb?.slice(0, -'/initdb'.length);
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (binDir() === undefined) return 'no initdb/postgres binaries (apt-get install postgresql)';
  if (process.getuid?.() === 0 && findBinary('runuser', ['/usr/sbin', '/sbin']) === undefined) return 'running as root without runuser';
  return undefined;
}

/**
 * initdb into a temp dir and start `postgres` as a child process. As root
 * (initdb refuses to run as root) both run as the `postgres` user through
 * runuser, in a temp dir that user owns. `settings` become `-c key=value`.
 */
export async function startPostgres(
  settings: Record<string, string | number> = {},
  options: { host?: string; namespace?: string } = {},
): Promise<PostgresServer> {
  const bin = binDir();
  if (bin === undefined) throw new Error(postgresUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'bw-pg-'));
  const asRoot = process.getuid?.() === 0;
  const asPostgres = (file: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args]);
  if (asRoot) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const [initCmd, initArgs] = asPostgres(`${bin}/initdb`, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  // initdb trusts local connections only; a server in a namespace is reached from another address.
  if (options.host !== undefined) appendFileSync(join(data, 'pg_hba.conf'), 'host all all all trust\n');

  const port = await freePort();
  const host = options.host ?? '127.0.0.1';
  const config = { listen_addresses: host, unix_socket_directories: dir, fsync: 'off', log_min_messages: 'warning', ...settings };
  const args = ['-D', data, '-p', String(port), ...Object.entries(config).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const [cmd, cmdArgs] = inNamespace(options.namespace, ...asPostgres(`${bin}/postgres`, args));
  let child: ChildProcess;
  try {
    child = await spawnUntil(cmd, cmdArgs, /ready to accept connections/);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);

  let frozen: number[] = [];
  const resume = () => {
    // As root, runuser stops itself when its child (the postmaster) stops, and stays stopped, never
    // reaping the postmaster, until it gets a SIGCONT of its own.
    if (frozen.length > 0 && asRoot && child.pid !== undefined) signalAll([child.pid], 'SIGCONT');
    signalAll(frozen, 'SIGCONT');
    frozen = [];
  };
  const pidOf = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    host,
    port,
    freeze() {
      frozen = processTree(postmaster);
      signalAll(frozen, 'SIGSTOP');
    },
    resume,
    async restart() {
      resume();
      signalAll([postmaster], 'SIGINT');
      await exited(child);
      child = await spawnUntil(cmd, cmdArgs, /ready to accept connections/);
      postmaster = pidOf();
    },
    async kill() {
      resume();
      signalAll(processTree(postmaster), 'SIGKILL');
      await exited(child);
    },
    async start() {
      child = await spawnUntil(cmd, cmdArgs, /ready to accept connections/);
      postmaster = pidOf();
    },
    async stop() {
      resume();
      // Fast shutdown: aborts open sessions and exits.
      signalAll([postmaster], 'SIGINT');
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (line === undefined) throw new Error('no `postgres` user to run initdb as (apt-get install postgresql creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
