import { constants, fstat, type Stats } from 'node:fs';
import { access, lstat, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BreakwaterError, isBreakwaterError } from '@breakwater/core';
import type { resolveScorecardOptions, Scenario, ScorecardReport } from '@breakwater/scorecard';
import { type Io, paint, routeStdoutToStderr, writeJson } from '../output.js';
import { loadScorecardConfig } from '../scorecard/config.js';
import { formatScorecard } from '../scorecard/format.js';
import { renderHtml } from '../scorecard/html.js';
import { createProgress } from '../scorecard/progress.js';
import { type CliCommand, EXIT, number } from './Command.js';

/** An {@link Io} that may say whether stderr is a terminal (the real one does; test captures do not). */
export type ScorecardIo = Io & { errTty?: boolean; columns?: number };

function select(only: unknown, registered: readonly Scenario[]): readonly Scenario[] {
  if (only === undefined) return registered;
  const ids = String(only)
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== '');
  const known = new Set(registered.map((s) => s.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (ids.length === 0 || unknown.length > 0) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`--only\` to list registered scenario ids (${[...known].join(', ') || 'none registered'}), got ${JSON.stringify(String(only))}`,
      { details: { option: 'only' } },
    );
  }
  return registered.filter((s) => ids.includes(s.id));
}

const htmlProblem = (file: string, problem: string, hint: string) =>
  new BreakwaterError('BW_ERR_INVALID_OPTION', `\`--html ${file}\`: ${problem}`, { details: { option: 'html', key: 'html' }, hint });

/** What `path` is when it exists and is not a regular file ("a directory", "a FIFO or device, …"), else undefined. */
async function notARegularFile(target: string): Promise<string | undefined> {
  const info = await lstat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (info === undefined || info.isFile()) return undefined;
  if (info.isDirectory()) return 'is a directory';
  if (info.isSymbolicLink()) return 'is a symbolic link';
  return 'is not a regular file (a device, FIFO or socket)';
}

/** "is this process's stdout" when `file` (a link followed) is the file stdout or stderr writes to: replacing it would lose the table. */
async function ourOutput(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) return undefined;
  for (const [fd, name] of [
    [1, 'stdout'],
    [2, 'stderr'],
  ] as const) {
    const out = await fstatOf(fd);
    if (out !== undefined && out.dev === info.dev && out.ino === info.ino) return `is this process's ${name} (a redirect to the same file)`;
  }
  return undefined;
}

const fstatOf = (fd: number) =>
  new Promise<Stats | undefined>((resolve) => {
    fstat(fd, (error, stats) => resolve(error === null ? stats : undefined));
  });

/**
 * Where `--html <file>` is written: the file itself, or, for a symbolic link
 * to a regular file, the file it resolves to (the link stays). A directory,
 * a device (`/dev/stdout`), a FIFO or a link to one of them is refused: the
 * report is written to a temp file renamed over the target, which would
 * replace it.
 */
async function htmlTarget(file: string): Promise<string> {
  let target = path.resolve(file);
  let problem = await notARegularFile(target);
  if (problem === 'is a symbolic link') {
    const resolved = await realpath(target).catch(() => undefined);
    const beyond = resolved === undefined ? undefined : await notARegularFile(resolved);
    if (resolved === undefined) problem = 'is a symbolic link that resolves to no file (dangling, or to a pipe or socket, as /dev/stdout can)';
    else if (beyond !== undefined) problem = `is a symbolic link to ${resolved}, which ${beyond}`;
    else [target, problem] = [resolved, undefined];
  }
  problem ??= await ourOutput(target);
  if (problem === undefined) return target;
  throw htmlProblem(
    file,
    problem,
    'name a regular file (new or existing) for the HTML report, e.g. --html scorecard.html; it is written to a temp file renamed over it (checked before any scenario runs)',
  );
}

/** `--html` into a directory that does not exist or is not writable, or onto something not a regular file: a usage error now, not after every row ran. */
async function checkHtmlTarget(file: string): Promise<void> {
  const dir = path.dirname(await htmlTarget(file));
  const problem = await stat(dir).then(
    (s) =>
      s.isDirectory()
        ? access(dir, constants.W_OK).then(
            () => undefined,
            () => 'is not writable',
          )
        : 'is not a directory',
    () => 'does not exist',
  );
  if (problem === undefined) return;
  throw htmlProblem(file, `its directory ${dir} ${problem}`, 'write the report into an existing, writable directory (checked before any scenario runs)');
}

async function writeHtmlAtomically(file: string, html: string): Promise<string> {
  const target = await htmlTarget(file);
  const tmp = `${target}.${process.pid}.html.tmp`;
  try {
    await writeFile(tmp, html);
    await rename(tmp, target);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  return target;
}

/** `--concurrency <n>`, checked by runScorecard()'s own rule before anything runs, and named as the flag. */
function concurrencyOf(value: unknown, resolve: typeof resolveScorecardOptions): number | undefined {
  if (value === undefined) return undefined;
  try {
    return resolve({ concurrency: value as number }).concurrency;
  } catch (error) {
    if (!isBreakwaterError(error, 'BW_ERR_INVALID_OPTION')) throw error;
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', error.message.split('`concurrency`').join('`--concurrency`'), {
      cause: error,
      details: { ...error.details, option: 'concurrency' },
      hint: 'pass --concurrency <n>, n scenarios side by side',
    });
  }
}

const EXIT_ON: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated };
/** What each signal did, and how to quit at once after it (a second signal of either kind). */
const SIGNAL_WORDS: Record<'SIGINT' | 'SIGTERM', [string, string]> = {
  SIGINT: ['interrupted (Ctrl-C)', 'Ctrl-C again'],
  SIGTERM: ['terminated (SIGTERM)', 'a second SIGTERM or Ctrl-C'],
};

/**
 * Aborts on the first Ctrl-C or SIGTERM (scenarios clean up, the report is
 * printed, exit 130 or 143); a second signal exits at once, and the exit
 * handlers of chaos's registry still kill what the scenarios started
 * (namespaces, PostgreSQL) and remove their temp dirs.
 */
function interruptOnSignals(io: Io): { signal: AbortSignal; exitCode(): number | undefined; dispose(): void } {
  const controller = new AbortController();
  let first: 'SIGINT' | 'SIGTERM' | undefined;
  const on = (name: 'SIGINT' | 'SIGTERM') => () => {
    if (first !== undefined) process.exit(EXIT_ON[name]);
    first = name;
    const [what, again] = SIGNAL_WORDS[name];
    io.err(`\n${paint(io, 'yellow', `${what}:`)} stopping the running scenarios and cleaning up (${again} to quit at once)\n`);
    // The rows it cuts short say which signal (runScorecard() uses a BW_ERR_ABORTED reason as given).
    controller.abort(new BreakwaterError('BW_ERR_ABORTED', what));
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  for (const [name, handler] of Object.entries(handlers)) process.on(name, handler);
  return {
    signal: controller.signal,
    exitCode: () => (first === undefined ? undefined : EXIT_ON[first]),
    dispose: () => {
      for (const [name, handler] of Object.entries(handlers)) process.off(name, handler);
    },
  };
}

export const scorecardCommand: CliCommand = {
  name: 'scorecard',
  summary: 'Reproduce every failure mode for real, naive vs Breakwater, and print the scorecard (and an HTML report)',
  arguments: [],
  options: [
    { flags: '--only <ids>', description: 'comma-separated row ids to run, e.g. FM-01,FM-04,DC-02 (default: all registered)' },
    { flags: '--concurrency <n>', description: 'scenarios run side by side; exclusive ones always run alone (default: 4)', parse: number('integer') },
    { flags: '--html <file>', description: 'also write a self-contained HTML report with charts' },
    {
      flags: '--config <file>',
      description:
        "run every scenario with your service's options: an ES module whose default export is { preset, http, socket, pool, ack, drivers } (or a function returning it)",
    },
  ],
  help: `
Kernel-level scenarios need root, ip and nft (network namespaces); without
them they are skipped with the reason, or are errors with
BREAKWATER_REQUIRE_NETNS=1; DC-04 runs a throw-away PostgreSQL and is
skipped without initdb and postgres. A row passes when the naive side shows
the failure and Breakwater meets its bound. FM-01 … FM-18 are the failure
modes, DC-01 … DC-04 the data contracts (slow server, replayed bodies,
restarted outbox, write-like reads).

With --config, each scenario's Breakwater side uses your options over the
defaults; a row fails, saying which option, when they defeat the defence
(e.g. "stallTimeoutMs 120000 → … after 120 s, bound 20 s"). A file that
cannot be loaded, or an invalid option, is a usage error (exit 2).

Exit codes: 0 every scenario that ran passed, 1 one failed or errored, 2 usage error,
3 nothing could run (or the HTML report could not be written; the table is
still printed), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).

Examples:
  $ sudo breakwater scorecard --html scorecard.html
  $ breakwater scorecard --only FM-15,FM-18 --json
  $ sudo breakwater scorecard --config ./breakwater.config.mjs --only FM-02,FM-07`,
  async run(_args, flags, io: ScorecardIo) {
    if (flags.json !== true) return runScorecardCommand(flags, io);
    // From before the config loads until the JSON is written: anything else on stdout goes to stderr.
    const restore = routeStdoutToStderr();
    try {
      return await runScorecardCommand(flags, io);
    } finally {
      restore();
    }
  },
};

async function runScorecardCommand(flags: Record<string, unknown>, io: ScorecardIo): Promise<number> {
  // Loaded here, not at startup: the scenarios pull in every package (and
  // the netns harness), which `doctor` and `probe` never need.
  const [{ SCENARIOS }, { runScorecard, resolveScorecardOptions }] = await Promise.all([import('../scorecard/scenarios.js'), import('@breakwater/scorecard')]);
  const scenarios = select(flags.only, SCENARIOS);
  const concurrency = concurrencyOf(flags.concurrency, resolveScorecardOptions);
  const config = flags.config === undefined ? undefined : await loadScorecardConfig(String(flags.config));
  if (flags.html !== undefined) await checkHtmlTarget(String(flags.html));
  if (scenarios.length === 0) throw new BreakwaterError('BW_ERR_UNSUPPORTED', 'no scorecard scenarios are registered');
  const progress = createProgress(
    { write: io.err, color: io.color, tty: io.errTty === true, ...(io.columns === undefined ? {} : { columns: io.columns }) },
    scenarios.length,
  );
  const interrupt = interruptOnSignals(io);
  let report: ScorecardReport;
  try {
    report = await runScorecard(scenarios, {
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(config === undefined ? {} : { config }),
      signal: interrupt.signal,
      onEvent: progress.onEvent,
    });
  } finally {
    progress.stop();
    interrupt.dispose();
  }
  // A failed write (disk full, the path became a directory) never loses the table or the JSON: printed first, then the error.
  let htmlFile: string | undefined;
  let htmlError: unknown;
  if (flags.html !== undefined) {
    try {
      htmlFile = await writeHtmlAtomically(String(flags.html), renderHtml(report));
    } catch (error) {
      htmlError = error;
    }
  }
  if (flags.json === true) {
    writeJson(io, report);
    if (htmlFile !== undefined) io.err(`HTML report: ${htmlFile}\n`);
  } else io.out(formatScorecard(report, io, htmlFile));
  if (htmlError !== undefined) {
    io.err(
      `${paint(io, 'red', 'error:')} could not write the HTML report ${String(flags.html)}: ${htmlError instanceof Error ? htmlError.message : String(htmlError)}\n`,
    );
    return EXIT.couldNotRun;
  }
  const interrupted = interrupt.exitCode();
  if (interrupted !== undefined) return interrupted;
  const s = report.summary;
  if (s.failed + s.errors > 0) return EXIT.findings;
  return s.passed === 0 ? EXIT.couldNotRun : EXIT.ok;
}
