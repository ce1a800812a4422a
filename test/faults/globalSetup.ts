import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { listNetnsResources, type NetnsResource, netnsSupport, sweepStaleNetns, sweepStaleNetnsSync } from '../../packages/chaos/src/netns/index.js';
import { FAULTS_REPORT } from '../support/report.js';

/**
 * Runs once around the whole `faults` project:
 * - before: starts a fresh `.reports/faults.jsonl` (the scorecard reads one run);
 * - before: also removes what earlier, killed runs left (objects whose owner pid is dead);
 * - after: checks that nothing this run created is left. Workers clean up
 *   in dispose() and in their exit handlers; whatever survives that is a
 *   leak: it is removed, listed, and fails the run;
 * - on SIGINT/SIGTERM to the vitest process alone (CI cancelling, `kill`):
 *   vitest exits at once and its watchdog SIGKILLs the workers, so they
 *   would never run their own cleanup. This handler first sends the workers
 *   SIGTERM (their handlers remove what they own), waits for them, then
 *   removes whatever of this run is left.
 */

const SETTLE_POLL_MS = 200;
/** How long the signal handler waits, synchronously, for workers to clean up and die. */
const SIGNAL_WAIT_MS = 3_000;
/** Workers may still be exiting (their exit handlers clean up) when teardown starts. */
const SETTLE_MAX_POLLS = 25;

function describeResources(resources: readonly NetnsResource[]): string {
  return resources.map((r) => `${r.kind} ${r.name} (pid ${r.ownerPid ?? '?'})`).join(', ');
}

function readRunPids(runFile: string): Set<number> {
  try {
    return new Set(
      readFileSync(runFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(line)),
    );
  } catch {
    return new Set();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run directories (`bw-faults-<pid>-…`) of vitest processes that were killed before their teardown. */
function removeStaleRunDirs(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = /^bw-faults-(\d+)-/.exec(entry)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

/** Synchronous on purpose: vitest calls process.exit() 1 ms after the signal. */
function cleanUpOnSignal(runDir: string, runFile: string): void {
  const runPids = readRunPids(runFile);
  const workers = [...runPids].filter((pid) => pid !== process.pid);
  for (const pid of workers) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Gone already.
    }
  }
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < SIGNAL_WAIT_MS && workers.some(alive); waited += 50) Atomics.wait(sleeper, 0, 0, 50);
  const removed = sweepStaleNetnsSync({ isStale: (pid) => runPids.has(pid) });
  rmSync(runDir, { recursive: true, force: true });
  console.log(`[faults] interrupted: workers cleaned up${removed.length > 0 ? `; also removed ${describeResources(removed)}` : ''}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(FAULTS_REPORT, { force: true });
  removeStaleRunDirs();
  const runDir = mkdtempSync(join(tmpdir(), `bw-faults-${process.pid}-`));
  const runFile = join(runDir, 'pids');
  writeFileSync(runFile, `${process.pid}\n`);
  project.provide('netnsRunFile', runFile);

  const { available, reason } = netnsSupport();
  const onSignal = () => cleanUpOnSignal(runDir, runFile);
  if (available) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  if (!available) {
    console.log(`[faults] netns harness unavailable (${reason}): kernel-level tests will ${process.env.BREAKWATER_REQUIRE_NETNS === '1' ? 'FAIL' : 'skip'}`);
  } else {
    const swept = await sweepStaleNetns();
    if (swept.length > 0) console.log(`[faults] removed leftovers of dead processes: ${describeResources(swept)}`);
  }

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      if (!available) return;
      const runPids = readRunPids(runFile);
      const ours = (r: NetnsResource) => r.ownerPid !== undefined && runPids.has(r.ownerPid);
      let left: NetnsResource[] = [];
      for (let poll = 0; poll < SETTLE_MAX_POLLS; poll++) {
        left = (await listNetnsResources()).filter(ours);
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      }
      const swept = await sweepStaleNetns();
      const foreign = swept.filter((r) => !ours(r));
      if (foreign.length > 0) console.log(`[faults] removed leftovers of other dead processes: ${describeResources(foreign)}`);
      if (left.length > 0) {
        await sweepStaleNetns({ isStale: (pid) => runPids.has(pid) });
        throw new Error(`[faults] this run leaked netns objects (now removed): ${describeResources(left)}`);
      }
      console.log('[faults] cleanup check: no namespace, veth, nft table or subnet lock of this run is left');
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  };
}
