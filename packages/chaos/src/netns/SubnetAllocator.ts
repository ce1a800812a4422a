import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isPidAlive } from './names.js';

/**
 * Hands out one /24 of 198.18.0.0/15 (RFC 2544, the benchmarking range) per
 * topology. Several test workers build topologies at the same moment and the
 * client end of each lives in the shared root namespace, so two topologies
 * must never get the same /24. The lock is a file created with O_EXCL in a
 * directory every process on the machine shares; the file holds the owner's
 * pid so a lock left by a dead process can be taken over.
 */

/** 198.18.0.0/15 holds 512 /24s: 198.18.0.0/24 … 198.19.255.0/24. */
export const SUBNET_COUNT = 512;

/** @defaultValue `/run/breakwater/netns` (tmpfs: emptied at boot, like the namespaces themselves) */
export const DEFAULT_LOCK_DIR = '/run/breakwater/netns';

/** The /24 with this index, as its first three octets: `198.18.7`, `198.19.255`. */
export function subnetPrefix(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= SUBNET_COUNT)
    throw new RangeError(`subnet index must be an integer in [0, ${SUBNET_COUNT}), got ${index}`);
  return `198.${18 + (index >> 8)}.${index & 0xff}`;
}

/** The index of the /24 that holds `address`, or undefined outside 198.18.0.0/15. */
export function subnetIndexOf(address: string): number | undefined {
  const match = /^198\.(18|19)\.(\d{1,3})\.\d{1,3}$/.exec(address);
  if (match === null) return undefined;
  const third = Number(match[2]);
  if (third > 255) return undefined;
  return (Number(match[1]) - 18) * 256 + third;
}

export interface LinkAddresses {
  /** `198.18.7.0/30` */
  readonly cidr: string;
  /** The end nearer the client: `.1` or `.5`. */
  readonly near: string;
  /** The end nearer the server: `.2` or `.6`. */
  readonly far: string;
}

export interface SubnetPlan {
  readonly index: number;
  /** `198.18.7.0/24` */
  readonly cidr: string;
  /** client ↔ server (or client ↔ router): .0/30 */
  readonly first: LinkAddresses;
  /** router ↔ server: .4/30 */
  readonly second: LinkAddresses;
}

/** The /30 links a topology carves out of its /24. */
export function planSubnet(index: number): SubnetPlan {
  const p = subnetPrefix(index);
  return Object.freeze({
    index,
    cidr: `${p}.0/24`,
    first: Object.freeze({ cidr: `${p}.0/30`, near: `${p}.1`, far: `${p}.2` }),
    second: Object.freeze({ cidr: `${p}.4/30`, near: `${p}.5`, far: `${p}.6` }),
  });
}

/**
 * Indices of the /24s that `ip -4 -o addr` / `ip -4 route` output already
 * uses in a namespace (so the allocator also steers clear of 198.18 space
 * someone else configured by hand). Routes shorter than /24 are ignored: our
 * more specific routes win over them.
 */
export function subnetsInUse(ipOutput: string): Set<number> {
  const used = new Set<number>();
  for (const match of ipOutput.matchAll(/\b(198\.1[89]\.\d{1,3}\.\d{1,3})(?:\/(\d{1,2}))?\b/g)) {
    const length = match[2] === undefined ? 32 : Number(match[2]);
    const index = subnetIndexOf(match[1] ?? '');
    if (index !== undefined && length >= 24) used.add(index);
  }
  return used;
}

export interface SubnetLease extends SubnetPlan {
  readonly lockFile: string;
  /** Gives the /24 back. Synchronous so exit handlers can call it. Idempotent. */
  release(): void;
}

export interface SubnetAllocatorOptions {
  /** @defaultValue {@link DEFAULT_LOCK_DIR} */
  lockDir?: string;
  /** Injected for tests. @defaultValue Math.random */
  random?: () => number;
  /** Injected for tests. @defaultValue `process.kill(pid, 0)` */
  isAlive?: (pid: number) => boolean;
  /** @defaultValue process.pid */
  pid?: number;
  /** Random picks before giving up. @defaultValue 64 */
  maxAttempts?: number;
}

export class SubnetAllocator {
  readonly lockDir: string;
  readonly #random: () => number;
  readonly #isAlive: (pid: number) => boolean;
  readonly #pid: number;
  readonly #maxAttempts: number;

  constructor(options: SubnetAllocatorOptions = {}) {
    this.lockDir = options.lockDir ?? DEFAULT_LOCK_DIR;
    this.#random = options.random ?? Math.random;
    this.#isAlive = options.isAlive ?? isPidAlive;
    this.#pid = options.pid ?? process.pid;
    this.#maxAttempts = options.maxAttempts ?? 64;
  }

  /** Takes a free /24, avoiding `inUse`. Throws after `maxAttempts` random picks. */
  acquire(inUse: ReadonlySet<number> = new Set()): SubnetLease {
    mkdirSync(this.lockDir, { recursive: true, mode: 0o755 });
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const index = Math.min(SUBNET_COUNT - 1, Math.floor(this.#random() * SUBNET_COUNT));
      if (inUse.has(index)) continue;
      const lockFile = join(this.lockDir, `${subnetPrefix(index)}.0.lock`);
      if (this.#tryLock(lockFile) || (this.#takeOverStale(lockFile) && this.#tryLock(lockFile))) {
        return this.#lease(index, lockFile);
      }
    }
    throw new Error(`no free /24 in 198.18.0.0/15 after ${this.#maxAttempts} attempts (lock dir ${this.lockDir})`);
  }

  #tryLock(lockFile: string): boolean {
    let fd: number;
    try {
      fd = openSync(lockFile, 'wx', 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      writeSync(fd, `${this.#pid}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  /** Removes a lock whose owner is dead; true if the file is gone now. */
  #takeOverStale(lockFile: string): boolean {
    const owner = readLockOwner(lockFile);
    // An empty file is a lock being written right now: leave it.
    if (owner === undefined || this.#isAlive(owner)) return false;
    try {
      unlinkSync(lockFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return true;
  }

  #lease(index: number, lockFile: string): SubnetLease {
    const pid = this.#pid;
    let released = false;
    return Object.freeze({
      ...planSubnet(index),
      lockFile,
      release() {
        if (released) return;
        released = true;
        if (readLockOwner(lockFile) !== pid) return;
        try {
          unlinkSync(lockFile);
        } catch {
          // Already gone (a sweeper ran): nothing to give back.
        }
      },
    });
  }
}

/** The pid written in a lock file, or undefined when unreadable or empty. */
export function readLockOwner(lockFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
