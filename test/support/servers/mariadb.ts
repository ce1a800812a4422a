import { type ChildProcess, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, findBinary, freePort, inNamespace, type ServerProcess, signalAll, spawnUntil } from './process.js';

/**
 * SIGSTOP, then wait until every thread of `pid` is stopped. kill() returns
 * before a multi-threaded process has finished its group stop (a thread in
 * uninterruptible I/O stops only when that I/O ends), and once in CI a query
 * sent right after the signal was still answered.
 */
function stopFully(pid: number | undefined): void {
  if (pid === undefined) throw new Error('mariadbd is not running: nothing to freeze');
  process.kill(pid, 'SIGSTOP');
  const state = (task: string) => {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  };
  const until = performance.now() + 2_000;
  while (performance.now() < until) {
    if (readdirSync(`/proc/${pid}/task`).every((task) => 'Tt'.includes(state(task)))) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  throw new Error(`mariadbd (pid ${pid}) did not stop within 2 s of SIGSTOP`);
}

/** A throw-away MariaDB: `--skip-grant-tables` (any user, no password, no default database). */
export interface MariadbServer extends ServerProcess {
  /** SIGSTOP mariadbd (one process, all threads). */
  freeze(): void;
  /** Normal shutdown (SIGTERM: sessions are closed), then start again on the same port and data dir. */
  restart(): Promise<void>;
}

export interface StartMariadbOptions {
  /** Address to bind. @defaultValue '127.0.0.1' */
  host?: string;
  /** Run mariadbd inside this network namespace (`ip netns exec`). */
  namespace?: string;
}

const SBIN = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
const READY = /ready for connections/;
// Small redo log and buffer pool: 22 MB on disk, about a second to initialise.
const SMALL = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M'];

/** Why MariaDB tests cannot run here, or undefined when they can. */
export function mariadbUnavailable(): string | undefined {
  if (findBinary('mariadbd', SBIN) === undefined || findBinary('mariadb-install-db', SBIN) === undefined) {
    return 'no mariadbd/mariadb-install-db binaries (apt-get install mariadb-server)';
  }
  return undefined;
}

/**
 * mariadb-install-db into a temp dir, then `mariadbd` as a child process
 * (never the packaged service). As root it runs as the `mysql` user, in a
 * temp dir that user owns. `settings` become `--key=value` (e.g.
 * `{ 'wait-timeout': 2 }`).
 */
export async function startMariadb(settings: Record<string, string | number> = {}, options: StartMariadbOptions = {}): Promise<MariadbServer> {
  const server = findBinary('mariadbd', SBIN);
  const installDb = findBinary('mariadb-install-db', SBIN);
  if (server === undefined || installDb === undefined) throw new Error(mariadbUnavailable());
  const host = options.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'bw-mariadb-'));
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? ['--user=mysql'] : [];
  const data = join(dir, 'data');
  try {
    if (asRoot) {
      const { uid, gid } = mysqlIds();
      chownSync(dir, uid, gid);
    }
    execFileSync(
      installDb,
      ['--no-defaults', `--datadir=${data}`, ...user, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', ...SMALL],
      {
        stdio: 'pipe',
      },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  const args = [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    `--bind-address=${host}`,
    `--socket=${join(dir, 'mariadb.sock')}`,
    `--pid-file=${join(dir, 'mariadb.pid')}`,
    ...user,
    '--skip-grant-tables',
    '--skip-name-resolve',
    '--skip-log-bin',
    ...SMALL,
    ...Object.entries(settings).map(([k, v]) => `--${k}=${v}`),
  ];
  const [cmd, cmdArgs] = inNamespace(options.namespace, server, args);
  let child: ChildProcess | undefined;
  const spawn = async () => {
    child = await spawnUntil(cmd, cmdArgs, READY);
  };
  try {
    await spawn();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // `ip netns exec` execs mariadbd itself: the child's pid is the server's.
  const pid = () => child?.pid as number;
  const halt = async (signal: NodeJS.Signals) => {
    if (child === undefined) return;
    signalAll([pid()], 'SIGCONT');
    signalAll([pid()], signal);
    await exited(child, 20_000);
    child = undefined;
  };
  return {
    host,
    port,
    freeze: () => stopFully(pid()),
    resume: () => signalAll([pid()], 'SIGCONT'),
    kill: () => halt('SIGKILL'),
    start: spawn,
    async restart() {
      await halt('SIGTERM');
      await spawn();
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mysqlIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('mysql:'));
  if (line === undefined) throw new Error('no `mysql` user to run mariadbd as (apt-get install mariadb-server creates it)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
