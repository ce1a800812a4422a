/**
 * Runs undici's own tests (vendored in test/conformance/vendor/undici, see its README) twice: with a plain
 * undici `Agent` as the global dispatcher (the control) and with `createClient().dispatcher`
 * (Breakwater), then compares them test by test.
 *
 * Used by test/integration/undici-conformance.test.ts. As a script it prints the comparison and, with
 * `--write-docs`, rewrites the table in docs/http-conformance.md:
 *   scripts/bw node test/conformance/run.mjs --write-docs
 *
 * WebSocket test files each run in a process of their own (they listen on process-wide diagnostics
 * channels); every other file runs in one process per mode (`--test-isolation=none`), which keeps the
 * whole run under a minute on a 2-core machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const testsDir = path.join(here, 'vendor', 'undici', 'test');
// Node 22 knows the flag only under its experimental name (renamed in Node 23.6); Node 24 takes both.
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const ISOLATION_NONE = NODE_MAJOR >= 23 ? '--test-isolation=none' : '--experimental-test-isolation=none';

function listFiles(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return name === 'utils' ? [] : listFiles(full);
      return name.endsWith('.js') ? [full] : [];
    })
    .sort();
}

export function vendoredFiles() {
  return listFiles(testsDir).map((f) => path.relative(testsDir, f));
}

function makeCertificate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'bw-conformance-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert, key };
}

function runNodeTest(mode, files, extraArgs, certs) {
  const args = [
    '--expose-gc',
    '--no-warnings',
    '--import',
    path.join(here, 'preload.mjs'),
    '--test',
    `--test-reporter=${path.join(here, 'reporter.mjs')}`,
    ...extraArgs,
    ...files,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      // A clean environment: a test runner's own variables (VITEST, NODE_ENV, NODE_OPTIONS…) stay out.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        BW_CONFORMANCE: mode,
        BW_CONFORMANCE_CERT: certs.cert,
        BW_CONFORMANCE_KEY: certs.key,
        BW_CONFORMANCE_COUNT_FILE: path.join(certs.dir, `dispatches-${mode}`),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.on('error', reject);
    const t0 = performance.now();
    child.on('close', (code, signal) => {
      if (process.env.BW_CONFORMANCE_DEBUG) console.error(mode, files.length, code, signal, Math.round(performance.now() - t0));
      clearTimeout(timer);
      const results = [];
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const r = JSON.parse(line);
        results.push({ ...r, file: path.relative(testsDir, r.file ?? '') });
      }
      resolve({ results, stderr: err });
    });
  });
}

/**
 * Files that subscribe to undici's process-wide diagnostics channels see every other file's traffic when
 * they share a process, and files that install a global dispatcher when loaded would install it for every
 * other file: each runs in a process of its own. The rest share one (`--test-isolation=none`),
 * which keeps a mode's run to a few seconds instead of a process start per file.
 */
function ownProcess(file) {
  return /diagnostics_channel|setGlobalDispatcher/.test(readFileSync(file, 'utf8'));
}

/** Runs every vendored file in `mode` ('control' | 'breakwater'); one result per test. */
export async function runMode(mode, certs) {
  const files = vendoredFiles().map((f) => path.join(testsDir, f));
  const alone = files.filter(ownProcess);
  const shared = files.filter((f) => !alone.includes(f));
  const [a, b] = await Promise.all([
    runNodeTest(mode, shared, [ISOLATION_NONE, '--test-force-exit', '--test-timeout=20000'], certs),
    // Node 22 applies --test-timeout to each file's process as a whole: client-fetch.js (33 tests) needs more than 20 s on a loaded box.
    runNodeTest(mode, alone, ['--test-concurrency=2', `--test-timeout=${NODE_MAJOR >= 23 ? 20_000 : 60_000}`], certs),
  ]);
  const stderr = a.stderr + b.stderr;
  let dispatches = 0;
  try {
    for (const line of readFileSync(path.join(certs.dir, `dispatches-${mode}`), 'utf8').split('\n')) dispatches += Number(line.split(' ')[1] ?? 0);
  } catch {}
  return { results: [...a.results, ...b.results], stderr, dispatches };
}

/** Files the naive run (Breakwater plus a layer hiding controller.rawHeaders) must visibly break. */
export const NAIVE_FILES = ['fetch/headers-case.js', 'fetch/redirect.js', 'fetch/cookies.js', 'fetch/fetch-url-after-redirect.js'];

/** Both runs, side by side: per test, the control's status and Breakwater's. */
export async function compare() {
  const certs = makeCertificate();
  try {
    const started = performance.now();
    const [control, breakwater, naive] = await Promise.all([
      runMode('control', certs),
      runMode('breakwater', certs),
      runNodeTest(
        'naive',
        NAIVE_FILES.map((f) => path.join(testsDir, f)),
        // Broken on purpose: a redirect it cannot follow may leave a socket open.
        [ISOLATION_NONE, '--test-force-exit', '--test-timeout=20000'],
        certs,
      ),
    ]);
    const key = (r) => `${r.file} > ${r.name}`;
    const byKey = new Map();
    for (const r of control.results) byKey.set(key(r), { file: r.file, name: r.name, control: r.status, controlError: r.error });
    for (const r of breakwater.results) {
      const e = byKey.get(key(r)) ?? { file: r.file, name: r.name };
      byKey.set(key(r), { ...e, breakwater: r.status, breakwaterError: r.error });
    }
    return {
      tests: [...byKey.values()],
      durationMs: performance.now() - started,
      dispatches: breakwater.dispatches,
      naive: naive.results,
      stderr: { control: control.stderr, breakwater: breakwater.stderr },
    };
  } finally {
    rmSync(certs.dir, { recursive: true, force: true });
  }
}

/** The documented differences: { "<file> > <test name>": "why" }. */
export function knownDifferences() {
  return JSON.parse(readFileSync(path.join(here, 'known-differences.json'), 'utf8'));
}

export function perFile(tests) {
  const files = new Map();
  for (const t of tests) {
    const f = files.get(t.file) ?? { file: t.file, tests: 0, control: 0, breakwater: 0, differ: [] };
    f.tests++;
    if (t.control === 'pass' || t.control === 'skip') f.control++;
    if (t.breakwater === 'pass' || t.breakwater === 'skip') f.breakwater++;
    if (t.control !== t.breakwater) f.differ.push(t);
    files.set(t.file, f);
  }
  return [...files.values()].sort((x, y) => x.file.localeCompare(y.file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { tests, durationMs, dispatches } = await compare();
  const known = knownDifferences();
  const rows = perFile(tests);
  const lines = rows.map((f) => {
    const why = f.differ.map((t) => `\`${t.name}\`: ${known[`${t.file} > ${t.name}`] ?? '**unexplained**'}`).join('; ');
    return `| \`${f.file}\` | ${f.tests} | ${f.control} | ${f.breakwater} | ${why} |`;
  });
  const total = rows.reduce((s, f) => ({ tests: s.tests + f.tests, control: s.control + f.control, breakwater: s.breakwater + f.breakwater }), {
    tests: 0,
    control: 0,
    breakwater: 0,
  });
  const table = [
    '| file | tests | pass: control (plain `Agent`) | pass: Breakwater | differences and why |',
    '| --- | --: | --: | --: | --- |',
    ...lines,
    `| **total** (${rows.length} files) | ${total.tests} | ${total.control} | ${total.breakwater} | |`,
  ].join('\n');
  console.log(table);
  console.log(`\n${Math.round(durationMs / 1000)} s for both runs; ${dispatches} dispatches went through Breakwater`);
  if (process.argv.includes('--write-docs')) {
    const doc = path.join(root, 'docs', 'http-conformance.md');
    const text = readFileSync(doc, 'utf8');
    const start = text.indexOf('<!-- table:start -->');
    const end = text.indexOf('<!-- table:end -->');
    writeFileSync(doc, `${text.slice(0, start)}<!-- table:start -->\n${table}\n${text.slice(end)}`);
  }
}
