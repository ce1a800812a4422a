import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BreakwaterError } from '@breakwater/core';
import type { ScorecardConfig } from '@breakwater/scorecard';

/**
 * How long `breakwater scorecard --config` waits for the file to load and its default export (a promise,
 * or what its function returns) to settle, in ms: one that never settles is a usage error, not a hang or
 * Node's "unsettled top-level await" (exit 13).
 */
export const CONFIG_SETTLE_TIMEOUT_MS = 30_000;

const invalid = (file: string, message: string, cause?: unknown) =>
  new BreakwaterError('BW_ERR_INVALID_OPTION', `\`--config ${file}\`: ${message}`, {
    details: { option: 'config', key: 'config' },
    ...(cause === undefined ? {} : { cause }),
    hint: 'the file is an ES module whose default export is the options your service uses: { preset, http, socket, pool, ack, drivers }, or a function returning them (or a promise of them)',
  });

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

type Settled<T> = { timedOut: false; value: T } | { timedOut: true };

/** What `work` settles to, or `{ timedOut: true }` once `ms` pass; the (referenced) timer keeps the process alive meanwhile. */
async function settleWithin<T>(work: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([work.then((value) => ({ timedOut: false as const, value })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const seconds = (ms: number) => `${ms / 1000} s`;

/**
 * The module's default export, from its namespace as Node gives it; a CommonJS file's
 * `exports.default = {…}` unwrapped (Node's namespace then has `default: { default: {…} }`).
 * @throws the usage error for a file that exports nothing or has no default export.
 */
export function defaultExport(file: string, mod: Record<string, unknown>): unknown {
  const exported = mod.default;
  const cjs = Object.hasOwn(mod, 'module.exports');
  // An empty file (or /dev/null) loads as CommonJS with `module.exports` still `{}`: it exports nothing.
  const empty = exported === undefined ? Object.keys(mod).length === 0 : cjs && isPlainObject(exported) && Object.keys(exported).length === 0;
  if (empty) throw invalid(file, 'the file exports nothing (no default export): `export default { socket: { … } }`');
  if (exported === undefined) throw invalid(file, 'has no default export (`export default { socket: { … } }`)');
  if (cjs && isPlainObject(exported) && Object.keys(exported).length === 1 && Object.hasOwn(exported, 'default')) return exported.default;
  return exported;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/**
 * `breakwater scorecard --config ./breakwater.config.mjs`: the module's
 * default export — an object, a promise of one, or a function returning
 * either (awaited, as `expectScorecard({ config })` does) — validated as a {@link ScorecardConfig}. Every failure is a usage
 * error (`BW_ERR_INVALID_OPTION`, exit 2) naming the file and, for a bad
 * option, the key; so is a load or default export that has not settled within `settleTimeoutMs`.
 */
export async function loadScorecardConfig(file: string, cwd: string = process.cwd(), settleTimeoutMs = CONFIG_SETTLE_TIMEOUT_MS): Promise<ScorecardConfig> {
  const absolute = path.resolve(cwd, file);
  try {
    await access(absolute);
  } catch (error) {
    throw invalid(file, `no such file (${absolute})`, error);
  }
  let loaded: Settled<Record<string, unknown>>;
  try {
    loaded = await settleWithin(import(pathToFileURL(absolute).href) as Promise<Record<string, unknown>>, settleTimeoutMs);
  } catch (error) {
    throw invalid(file, `could not be loaded: ${messageOf(error)}`, error);
  }
  if (loaded.timedOut) throw invalid(file, `did not finish loading within ${seconds(settleTimeoutMs)} (a top-level await that never settles?)`);
  const exported = defaultExport(file, loaded.value);
  // Loaded here, not at startup: @breakwater/scorecard pulls in every package (see commands/scorecard.ts).
  const { loadConfigSource, resolveScorecardConfig } = await import('@breakwater/scorecard');
  let settled: Settled<unknown>;
  try {
    // `export default Promise.resolve({…})` and `export default async () => ({…})` are awaited, as expectScorecard does.
    settled = await settleWithin(loadConfigSource(exported), settleTimeoutMs);
  } catch (error) {
    throw invalid(file, `its default export threw (or rejected): ${messageOf(error)}`, error);
  }
  if (settled.timedOut) throw invalid(file, `its default export never settled within ${seconds(settleTimeoutMs)}`);
  const config = settled.value;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalid(
      file,
      `expected the default export to be an options object (or a promise of one, or a function returning either), got ${Array.isArray(config) ? 'an array' : config === null ? 'null' : typeof config}`,
    );
  }
  try {
    resolveScorecardConfig(config);
  } catch (error) {
    // A getter that throws, a Proxy…: still the file's fault, so a usage error.
    if (!(error instanceof BreakwaterError)) throw invalid(file, `reading its options threw: ${messageOf(error)}`, error);
    throw new BreakwaterError(error.code, `\`--config ${file}\`: ${error.message}`, { cause: error, details: error.details, hint: error.hint });
  }
  return config as ScorecardConfig;
}
