import { beforeAll, describe, expect, it } from 'vitest';
import { type ConformanceRun, compare, knownDifferences, NAIVE_FILES, vendoredFiles } from '../conformance/run.mjs';

// Issue 20: undici's own tests (vendored, license kept: test/conformance/vendor/undici/README.md) run with
// `createClient().dispatcher` as undici's global dispatcher and with a plain `Agent` (the control). Every
// test whose outcome differs must be listed, with the reason, in test/conformance/known-differences.json;
// docs/http-conformance.md has the per-file table (`scripts/bw node test/conformance/run.mjs --write-docs`).
// Needs the built packages (tsc -b), as the child processes load packages/http/dist.

let run: ConformanceRun;
const known = knownDifferences();
const key = (t: { file: string; name: string }) => `${t.file} > ${t.name}`;

beforeAll(async () => {
  run = await compare();
  console.log(
    `[conformance] ${run.tests.length} tests in ${vendoredFiles().length} files, both runs in ${Math.round(run.durationMs / 1000)} s; ${run.dispatches} dispatches through Breakwater`,
  );
}, 100_000);

describe('undici conformance: Breakwater as the global dispatcher against a plain Agent', () => {
  it('really routes the Breakwater run through the client', () => {
    expect(run.dispatches).toBeGreaterThan(200);
    expect(run.tests.length).toBeGreaterThan(250);
  });

  it('naive: a layer that hides controller.rawHeaders (the old retry layer) makes undici tests fail', () => {
    const failed = run.naive.filter((t) => t.status === 'fail');
    console.log(`[conformance] naive run of ${NAIVE_FILES.join(', ')}: ${failed.length} of ${run.naive.length} tests fail`);
    expect(failed.length).toBeGreaterThanOrEqual(4);
  });

  it.each(vendoredFiles())('%s: no difference from the control that is not explained', (file) => {
    const tests = run.tests.filter((t) => t.file === file);
    expect(tests.length, 'the file ran').toBeGreaterThan(0);
    const unexplained = tests.filter((t) => t.control !== t.breakwater && known[key(t)] === undefined);
    expect(unexplained.map((t) => `${t.name}: control ${t.control}, Breakwater ${t.breakwater} (${t.breakwaterError ?? t.controlError ?? ''})`)).toEqual([]);
  });

  it('lists no difference that has gone away (the list stays true)', () => {
    const differing = new Set(run.tests.filter((t) => t.control !== t.breakwater).map(key));
    expect(Object.keys(known).filter((k) => !differing.has(k))).toEqual([]);
  });
});
