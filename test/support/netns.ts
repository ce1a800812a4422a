import { appendFileSync } from 'node:fs';
import { afterEach, describe, inject, it } from 'vitest';
import { createTopology, netnsSupport, type Topology, type TopologyOptions } from '../../packages/chaos/src/netns/index.js';
import { runDefers } from './scenario.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** File where each worker that builds topologies writes its pid (see test/faults/globalSetup.ts). */
    netnsRunFile: string;
  }
}

/** `BREAKWATER_REQUIRE_NETNS=1` (set by CI): a missing netns harness fails instead of skipping. */
export const requireNetns = process.env.BREAKWATER_REQUIRE_NETNS === '1';

/**
 * `describe()` for tests that need root, network namespaces and nftables.
 * Without them the suite is skipped with the reason printed, or fails when
 * `BREAKWATER_REQUIRE_NETNS=1`.
 */
export function describeNetns(name: string, fn: () => void): void {
  const { available, reason } = netnsSupport();
  if (available) {
    registerWorker();
    describe(name, fn);
    return;
  }
  if (requireNetns) {
    describe(name, () => {
      it('has the netns harness (BREAKWATER_REQUIRE_NETNS=1)', () => {
        throw new Error(`BREAKWATER_REQUIRE_NETNS=1 but the netns harness cannot run: ${reason}`);
      });
    });
    return;
  }
  console.log(`[skip] ${name}: ${reason} (set BREAKWATER_REQUIRE_NETNS=1 to make this a failure)`);
  describe.skip(name, fn);
}

/** Tells globalSetup which pids belong to this run, so its leak check ignores other runs. */
function registerWorker(): void {
  let file: string | undefined;
  try {
    file = inject('netnsRunFile');
  } catch {
    file = undefined;
  }
  if (typeof file === 'string' && file.length > 0) appendFileSync(file, `${process.pid}\n`);
}

export type Defer = (cleanup: () => unknown) => void;

/**
 * Registers cleanups that run after each test, last registered first, even
 * when the test failed; every one runs, the first error is rethrown.
 */
export function useCleanup(): Defer {
  const stack: (() => unknown)[] = [];
  afterEach(async () => {
    const first = await runDefers(stack);
    if (first !== undefined) throw first;
  });
  return (cleanup) => {
    stack.push(cleanup);
  };
}

/** `createTopology()` whose `dispose()` is deferred to the end of the test. */
export async function topology(defer: Defer, options?: TopologyOptions): Promise<Topology> {
  const created = await createTopology(options);
  defer(() => created.dispose());
  return created;
}
