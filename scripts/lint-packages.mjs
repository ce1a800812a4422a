#!/usr/bin/env node
// Lints what each package would publish, from the tarball `pnpm pack` makes (build first: `tsc -b`):
// - publint: exports/files/types pointing at files that are missing or not published, formats, fields.
//   Every message counts, suggestions included, warnings as errors (`strict`).
// - @arethetypeswrong/cli with the `node16` profile less one problem (`require-esm`): every entry point's
//   types resolve under node16 (ESM and CommonJS) and bundler resolution. The packages are ESM whose
//   exports maps end in a `default` condition, so `require()` loads them on Node >= 22.12 (our floor is
//   22.19): `CJSResolvesToESM` ("ESM, dynamic import only") predates require(esm) and is the one problem
//   ignored under node16-cjs. node10 resolution (no exports maps) is out of scope, as in attw's profile.
//
// Usage: node scripts/lint-packages.mjs [name|dir…]   (names of directories under packages/, or paths to
// package directories; default: every package under packages/)
// Exit code 0 when every package is clean, 1 otherwise. Works offline.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
// attw's engine, loaded once through its CLI's own dependency (TypeScript loads once, not per package).
const attw = await import(pathToFileURL(createRequire(require.resolve('@arethetypeswrong/cli/package.json')).resolve('@arethetypeswrong/core')).href);
// The CLI's `node16` profile: node10 resolution (no exports maps) is not supported.
const IGNORED_RESOLUTIONS = ['node10'];
// require(esm) (Node >= 22.12, unflagged) loads our ESM from CommonJS, which attw 0.18 still calls a problem.
const IGNORED_PROBLEMS = [{ kind: 'CJSResolvesToESM', resolutionKind: 'node16-cjs' }];
const PROFILE = 'node16, require-esm';

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : readdirSync(join(root, 'packages')).sort();

const dirOf = (name) => (name.includes('/') ? resolve(name) : join(root, 'packages', name));
const labelOf = (name) => (name.includes('/') ? name : `packages/${name}`);

async function lintPackage(name) {
  const pkgDir = dirOf(name);
  if (!existsSync(join(pkgDir, 'package.json'))) return [`no package.json in ${pkgDir}`];
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const problems = [];
  const out = mkdtempSync(join(tmpdir(), 'bw-pack-'));
  try {
    // pnpm rewrites `workspace:*` as a publish would; lifecycle scripts are not run.
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', out, '--json'], { cwd: pkgDir });
    const tarball = JSON.parse(stdout).filename;
    // publint sees exactly the published files: the unpacked tarball, not the work tree.
    await run('tar', ['-xzf', tarball, '-C', out]);
    const { messages } = await publint({ pkgDir: join(out, 'package'), pack: false, level: 'suggestion', strict: true });
    for (const m of messages) problems.push(`publint ${m.type}: ${formatMessage(m, pkg, { color: false })}`);
    if (pkg.exports !== undefined) {
      const analysis = await attw.checkPackage(attw.createPackageFromTarballData(new Uint8Array(readFileSync(tarball))));
      if (!analysis.types) problems.push('attw: no types found in the tarball');
      for (const p of analysis.problems ?? []) {
        if ('resolutionKind' in p && IGNORED_RESOLUTIONS.includes(p.resolutionKind)) continue;
        if (IGNORED_PROBLEMS.some((i) => i.kind === p.kind && i.resolutionKind === p.resolutionKind)) continue;
        problems.push(`attw ${p.kind}: ${p.entrypoint ?? ''} ${p.resolutionKind ?? ''} ${p.fileName ?? ''}`.trim());
      }
    }
  } catch (err) {
    problems.push(`packing failed: ${String(err.stderr || err.message).trim()}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return problems;
}

// Two at a time: packing is mostly waiting on pnpm's start-up, and the machine is shared.
const results = new Map();
const queue = [...names];
await Promise.all(
  [0, 1].map(async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) results.set(name, await lintPackage(name));
  }),
);

let failed = 0;
for (const name of names) {
  const problems = results.get(name);
  if (problems.length === 0) {
    console.log(`ok   ${labelOf(name)}: publint, attw (${PROFILE})`);
  } else {
    failed++;
    console.log(`FAIL ${labelOf(name)}`);
    for (const p of problems) console.log(`     ${p.replaceAll('\n', '\n     ')}`);
  }
}
console.log(failed === 0 ? `${names.length} package(s) clean` : `${failed} of ${names.length} package(s) with problems`);
process.exitCode = failed === 0 ? 0 : 1;
