import { rmSync } from 'node:fs';
import { runSync } from './command.js';
import type { SubnetLease } from './SubnetAllocator.js';

/**
 * Process-wide list of every kernel object and child process the harness
 * created and has not removed yet. `Topology.dispose()` is the normal path;
 * this registry is the safety net for the abnormal ones:
 *
 * - `process.on('exit')` (a test called `process.exit()`, vitest tore the
 *   worker down) removes what is left with synchronous commands, the only
 *   kind an exit handler may run;
 * - SIGINT/SIGTERM (Ctrl-C, CI cancelling the job) clean up the same way,
 *   then re-raise the signal so the process still dies of it.
 *
 * SIGKILL cannot be caught: `sweepStaleNetns()` removes what a killed
 * process left, recognising it by the dead owner pid in every name.
 * The handlers are installed only while something is registered, so merely
 * importing the package changes nothing.
 */

type Kind = 'process' | 'namespace' | 'rootLink' | 'rootTable' | 'lease' | 'path';

const processes = new Set<number>();
const namespaces = new Set<string>();
const rootLinks = new Set<string>();
const rootTables = new Set<string>();
const leases = new Set<SubnetLease>();
/** Temp dirs a child works in (a throw-away PostgreSQL's data dir): removed after the processes are killed. */
const paths = new Set<string>();

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let installed = false;

function size(): number {
  return processes.size + namespaces.size + rootLinks.size + rootTables.size + leases.size + paths.size;
}

function onExit(): void {
  cleanupSync();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupSync();
  uninstall();
  // Other listeners decide themselves what the signal means; alone, we restore
  // the default action (terminate) by sending the signal again.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function setOf(kind: Kind): Set<unknown> {
  switch (kind) {
    case 'process':
      return processes;
    case 'namespace':
      return namespaces;
    case 'rootLink':
      return rootLinks;
    case 'rootTable':
      return rootTables;
    case 'lease':
      return leases;
    case 'path':
      return paths;
  }
}

export function track(kind: 'process', pid: number): void;
export function track(kind: 'namespace' | 'rootLink' | 'rootTable' | 'path', name: string): void;
export function track(kind: 'lease', lease: SubnetLease): void;
export function track(kind: Kind, value: unknown): void {
  setOf(kind).add(value);
  install();
}

export function untrack(kind: 'process', pid: number): void;
export function untrack(kind: 'namespace' | 'rootLink' | 'rootTable' | 'path', name: string): void;
export function untrack(kind: 'lease', lease: SubnetLease): void;
export function untrack(kind: Kind, value: unknown): void {
  setOf(kind).delete(value);
  if (size() === 0) uninstall();
}

/** What is still registered, for tests and leak reports. */
export function trackedResources(): {
  processes: number[];
  namespaces: string[];
  rootLinks: string[];
  rootTables: string[];
  leases: string[];
  paths: string[];
} {
  return {
    processes: [...processes],
    namespaces: [...namespaces],
    rootLinks: [...rootLinks],
    rootTables: [...rootTables],
    leases: [...leases].map((l) => l.cidr),
    paths: [...paths],
  };
}

/**
 * The registry for code outside the harness that starts a long-lived child
 * (DC-04's PostgreSQL): `pid` (negative for a process group: `spawn(…,
 * { detached: true })` and `-child.pid`) is SIGKILLed and `path` removed on
 * exit, SIGINT or SIGTERM unless the returned function was called first (the
 * normal cleanup did the job).
 */
export function cleanupOnExit(resource: { pid: number } | { path: string }): () => void {
  if ('pid' in resource) {
    track('process', resource.pid);
    return () => untrack('process', resource.pid);
  }
  track('path', resource.path);
  return () => untrack('path', resource.path);
}

/** Sends SIGCONT (a frozen process cannot act on anything else) then SIGKILL. */
export function killHard(pid: number): void {
  for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Removes one namespace synchronously: kills every process still inside (a
 * namespace lives on while a process holds it, and so do its veths), then
 * deletes its name.
 */
export function deleteNamespaceSync(name: string): void {
  const pids = runSync('ip', ['netns', 'pids', name]) ?? '';
  for (const pid of pids.split(/\s+/).filter(Boolean)) killHard(Number(pid));
  runSync('ip', ['netns', 'delete', name]);
}

/** Removes everything registered, synchronously. Safe to call more than once. */
export function cleanupSync(): void {
  for (const pid of processes) killHard(pid);
  processes.clear();
  for (const table of rootTables) runSync('nft', ['delete', 'table', 'inet', table]);
  rootTables.clear();
  // Deleting one veth end deletes its peer; do it explicitly for the root
  // ends instead of waiting for the kernel's asynchronous namespace teardown.
  for (const link of rootLinks) runSync('ip', ['link', 'delete', link]);
  rootLinks.clear();
  for (const name of namespaces) deleteNamespaceSync(name);
  namespaces.clear();
  for (const lease of leases) lease.release();
  leases.clear();
  for (const dir of paths) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  paths.clear();
  uninstall();
}
