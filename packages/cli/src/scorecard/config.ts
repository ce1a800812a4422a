import { access } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BreakwaterError } from '@breakwater/core';
import type { ScorecardConfig } from '@breakwater/scorecard';

const invalid = (file: string, message: string, cause?: unknown) =>
  new BreakwaterError('BW_ERR_INVALID_OPTION', `\`--config ${file}\`: ${message}`, {
    details: { option: 'config', key: 'config' },
    ...(cause === undefined ? {} : { cause }),
    hint: 'the file is an ES module whose default export is the options your service uses: { preset, http, socket, pool, ack, drivers }, or a function returning them (or a promise of them)',
  });

/**
 * `breakwater scorecard --config ./breakwater.config.mjs`: the module's
 * default export — an object, a promise of one, or a function returning
 * either (awaited, as `expectScorecard({ config })` does) — validated as a {@link ScorecardConfig}. Every failure is a usage
 * error (`BW_ERR_INVALID_OPTION`, exit 2) naming the file and, for a bad
 * option, the key.
 */
export async function loadScorecardConfig(file: string, cwd: string = process.cwd()): Promise<ScorecardConfig> {
  const absolute = path.resolve(cwd, file);
  try {
    await access(absolute);
  } catch (error) {
    throw invalid(file, `no such file (${absolute})`, error);
  }
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(absolute).href);
  } catch (error) {
    throw invalid(file, `could not be loaded: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (!('default' in mod) || mod.default === undefined) throw invalid(file, 'has no default export (`export default { socket: { … } }`)');
  // Loaded here, not at startup: @breakwater/scorecard pulls in every package (see commands/scorecard.ts).
  const { loadConfigSource, resolveScorecardConfig } = await import('@breakwater/scorecard');
  let config: unknown;
  try {
    // `export default Promise.resolve({…})` and `export default async () => ({…})` are awaited, as expectScorecard does.
    config = await loadConfigSource(mod.default);
  } catch (error) {
    throw invalid(file, `its default export threw (or rejected): ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalid(
      file,
      `expected the default export to be an options object (or a promise of one, or a function returning either), got ${Array.isArray(config) ? 'an array' : config === null ? 'null' : typeof config}`,
    );
  }
  try {
    resolveScorecardConfig(config);
  } catch (error) {
    if (!(error instanceof BreakwaterError)) throw error;
    throw new BreakwaterError(error.code, `\`--config ${file}\`: ${error.message}`, { cause: error, details: error.details, hint: error.hint });
  }
  return config as ScorecardConfig;
}
