import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { publisher } from '@breakwater/core';
import { run, runSync } from './command.js';
import { isPidAlive, ownerPidOf } from './names.js';
import { killHard } from './registry.js';
import { DEFAULT_LOCK_DIR, readLockOwner } from './SubnetAllocator.js';

/** One harness object on this machine. */
export interface NetnsResource {
  /**
   * `namespace`: `bw-<pid>-…`; `link`: a `bw<pid>-…` veth end in the root
   * namespace; `table`: an `inet bw_<pid>_…` nft table in the root namespace;
   * `lock`: a subnet lock file (its path).
   */
  kind: 'namespace' | 'link' | 'table' | 'lock';
  name: string;
  /** The process that created it; undefined for a lock file still being written. */
  ownerPid: number | undefined;
}

export interface SweepOptions {
  /**
   * Which owners' objects to remove.
   * @defaultValue owners that are no longer running
   */
  isStale?: (ownerPid: number) => boolean;
  /** @defaultValue `/run/breakwater/netns` */
  lockDir?: string;
}

/** A lock file still empty after this long belongs to a writer that died mid-write. */
const EMPTY_LOCK_GRACE_MS = 60_000;

const publish = publisher('chaos');

async function lines(file: string, args: readonly string[]): Promise<string[]> {
  try {
    return (await run(file, args)).split('\n');
  } catch {
    // Not root, no iproute2/nftables: there is nothing of ours to find.
    return [];
  }
}

function linesSync(file: string, args: readonly string[]): string[] {
  return (runSync(file, args) ?? '').split('\n');
}

function lockFiles(lockDir: string): string[] {
  try {
    return readdirSync(lockDir)
      .filter((f) => f.endsWith('.lock'))
      .map((f) => join(lockDir, f));
  } catch {
    return [];
  }
}

const LIST_COMMANDS = [
  ['ip', ['netns', 'list']],
  ['ip', ['-o', 'link', 'show']],
  ['nft', ['list', 'tables']],
] as const;

/** Picks our objects out of `ip netns list`, `ip -o link show` and `nft list tables` output. */
function parseResources([ns = [], links = [], tables = []]: string[][], lockDir: string): NetnsResource[] {
  const found: NetnsResource[] = [];
  const add = (kind: NetnsResource['kind'], name: string | undefined) => {
    const ownerPid = name === undefined ? undefined : ownerPidOf(name);
    if (name !== undefined && ownerPid !== undefined) found.push({ kind, name, ownerPid });
  };
  for (const line of ns) add('namespace', line.split(' ')[0]);
  for (const line of links) add('link', /^\d+:\s+([^:@\s]+)/.exec(line)?.[1]);
  for (const line of tables) add('table', /^table inet (\S+)$/.exec(line.trim())?.[1]);
  for (const lock of lockFiles(lockDir)) found.push({ kind: 'lock', name: lock, ownerPid: readLockOwner(lock) });
  return found;
}

/** Every harness object of any owner: namespaces, root veth ends, root nft tables, subnet locks. */
export async function listNetnsResources(options: { lockDir?: string } = {}): Promise<NetnsResource[]> {
  const outputs = await Promise.all(LIST_COMMANDS.map(([file, args]) => lines(file, args)));
  return parseResources(outputs, options.lockDir ?? DEFAULT_LOCK_DIR);
}

function emptyLockExpired(lock: string): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs > EMPTY_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

/** The commands that remove one object (namespaces: after killing what runs inside). */
function removal(resource: NetnsResource): [string, string[]] | undefined {
  switch (resource.kind) {
    case 'table':
      return ['nft', ['delete', 'table', 'inet', resource.name]];
    case 'link':
      return ['ip', ['link', 'delete', resource.name]];
    case 'namespace':
      return ['ip', ['netns', 'delete', resource.name]];
    case 'lock':
      return undefined;
  }
}

function killInside(pids: readonly string[]): void {
  // Children that were frozen when their parent died are still in there.
  for (const pid of pids.filter(Boolean)) killHard(Number(pid));
}

function removeLock(lock: string): boolean {
  try {
    unlinkSync(lock);
    return true;
  } catch {
    return false;
  }
}

const ORDER: readonly NetnsResource['kind'][] = ['table', 'link', 'namespace', 'lock'];

function staleOnes(found: readonly NetnsResource[], options: SweepOptions): NetnsResource[] {
  const isStale = options.isStale ?? ((pid: number) => !isPidAlive(pid));
  return found
    .filter((r) => (r.ownerPid === undefined ? r.kind === 'lock' && emptyLockExpired(r.name) : isStale(r.ownerPid)))
    .sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
}

/**
 * Removes the namespaces, root veth ends, root nft tables and subnet locks
 * whose owner process is gone: what a SIGKILLed test worker leaves behind.
 * Objects of live processes are left alone, so this is safe to run while
 * other test runs are in progress. Resolves with what it removed.
 *
 * @example
 * // vitest globalSetup
 * export async function setup() { await sweepStaleNetns(); }
 */
export async function sweepStaleNetns(options: SweepOptions = {}): Promise<NetnsResource[]> {
  const found = await listNetnsResources(options.lockDir === undefined ? {} : { lockDir: options.lockDir });
  const removed: NetnsResource[] = [];
  for (const resource of staleOnes(found, options)) {
    const command = removal(resource);
    if (resource.kind === 'namespace') killInside(await lines('ip', ['netns', 'pids', resource.name]));
    // A failure means it went meanwhile (deleting a veth end deletes its peer) or another sweeper got it.
    const ok =
      command === undefined
        ? removeLock(resource.name)
        : await run(command[0], command[1]).then(
            () => true,
            () => false,
          );
    if (ok) removed.push(resource);
  }
  if (removed.length > 0) publish('staleSwept', { removed });
  return removed;
}

/**
 * {@link sweepStaleNetns}, synchronously: for signal and exit handlers,
 * which cannot wait for promises.
 */
export function sweepStaleNetnsSync(options: SweepOptions = {}): NetnsResource[] {
  const found = parseResources(
    LIST_COMMANDS.map(([file, args]) => linesSync(file, args)),
    options.lockDir ?? DEFAULT_LOCK_DIR,
  );
  const removed: NetnsResource[] = [];
  for (const resource of staleOnes(found, options)) {
    const command = removal(resource);
    if (resource.kind === 'namespace') killInside(linesSync('ip', ['netns', 'pids', resource.name]));
    const ok = command === undefined ? removeLock(resource.name) : runSync(command[0], command[1]) !== undefined;
    if (ok) removed.push(resource);
  }
  if (removed.length > 0) publish('staleSwept', { removed });
  return removed;
}
