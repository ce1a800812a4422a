import { readFileSync } from 'node:fs';

/**
 * Names of every kernel object the harness creates. All start with `bw` and
 * carry the owner's pid, so `sweepStaleNetns()` can tell leftovers of a dead
 * process (SIGKILL, OOM, a crashed test worker) from objects a live process
 * still uses.
 *
 * | object                  | pattern                 | example              |
 * |-------------------------|-------------------------|----------------------|
 * | namespace               | `bw-<pid>-<n>-<role>`   | `bw-4242-1f-server`  |
 * | veth end                | `bw<pid>-<n><me><peer>` | `bw4242-1fcr`        |
 * | nft table (root ns)     | `bw_<pid>_<n>`          | `bw_4242_1f`         |
 * | subnet lock file        | `198.18.7.0.lock`       | (pid inside)         |
 *
 * `<n>` is the topology's index within its process, in base 36.
 */

export type Role = 'client' | 'router' | 'server';

/** Linux IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_INTERFACE_NAME_LENGTH = 15;

/** Largest pid Linux can hand out (`pid_max` limit on 64-bit): 7 digits. */
const MAX_PID = 4_194_304;

/** Three base-36 digits keep the longest veth name at 15 characters. */
export const MAX_TOPOLOGY_INDEX = 36 ** 3 - 1;

const ROLE_LETTER: Readonly<Record<Role, string>> = { client: 'c', router: 'r', server: 's' };

export interface TopologyNames {
  readonly ownerPid: number;
  readonly index: number;
  /** Network namespace name for a role. */
  namespace(role: Role): string;
  /** Name of the veth end that sits on `self` and faces `peer`. */
  link(self: Role, peer: Role): string;
  /** Table for rules in the root namespace (a client that is the test process itself). */
  readonly rootTable: string;
}

function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid < 1 || pid > MAX_PID) throw new RangeError(`pid must be an integer between 1 and ${MAX_PID}, got ${pid}`);
}

export function topologyNames(ownerPid: number, index: number): TopologyNames {
  checkPid(ownerPid);
  if (!Number.isInteger(index) || index < 0 || index > MAX_TOPOLOGY_INDEX) {
    throw new RangeError(`topology index must be an integer between 0 and ${MAX_TOPOLOGY_INDEX}, got ${index}`);
  }
  const n = index.toString(36);
  return Object.freeze({
    ownerPid,
    index,
    namespace: (role: Role) => `bw-${ownerPid}-${n}-${role}`,
    link: (self: Role, peer: Role) => `bw${ownerPid}-${n}${ROLE_LETTER[self]}${ROLE_LETTER[peer]}`,
    rootTable: `bw_${ownerPid}_${n}`,
  });
}

/** Name of the short-lived namespace `netnsSupport()` creates to prove it can. */
export function probeNamespaceName(ownerPid: number, attempt: number): string {
  checkPid(ownerPid);
  return `bw-${ownerPid}-probe${attempt}`;
}

const OWNER_RE = /^bw[-_]?(\d{1,7})[-_]/;

/**
 * The pid that owns a harness object (namespace, veth or nft table name), or
 * `undefined` when the name is not one of ours.
 */
export function ownerPidOf(name: string): number | undefined {
  const match = OWNER_RE.exec(name);
  if (match === null) return undefined;
  const pid = Number(match[1]);
  return pid >= 1 && pid <= MAX_PID ? pid : undefined;
}

/**
 * Whether a process with this pid is running. EPERM means it exists but is
 * not ours; a zombie (exited, not yet reaped) counts as dead.
 */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S …"; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // On Linux a missing /proc entry means it exited in between; elsewhere trust kill(0).
    return process.platform !== 'linux';
  }
}
