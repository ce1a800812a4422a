import { type AckClientOptions, resolveAckClientOptions } from '@breakwater/ack';
import { BreakwaterError, validateOptionsObject } from '@breakwater/core';
import { type DriverOptions, resolveDriverOptions } from '@breakwater/drivers';
import { type HttpClientOptions, previewLayers, resolveHttpOptions } from '@breakwater/http';
import { type PoolOptions, resolvePoolOptions } from '@breakwater/pool';
import { type PresetConfig, type PresetSelection, resolvePreset } from '@breakwater/presets';
import { type ResolvedSocketOptions, resolveSocketOptions, type SocketOptions } from '@breakwater/socket';

/**
 * The options the user's service gives each Breakwater package, for the
 * scorecard to run every scenario with: `breakwater scorecard --config
 * ./breakwater.config.mjs`, `runScorecard(scenarios, { config })`,
 * `expectScorecard({ config })`. Each scenario's Breakwater side builds its
 * client, socket or pool from the package's defaults merged with these (the
 * scenario's own test knobs, such as where to connect, stay the scenario's);
 * a `preset` supplies the sections it has (socket, pool, http), explicit
 * sections override it key by key.
 */
export interface ScorecardConfig {
  /** A `resolvePreset()` result or a selection (`{ infra: 'aws-alb', env: 'production' }`). */
  preset?: PresetConfig | PresetSelection;
  /** `createClient()` options (FM-07, FM-11, FM-13, FM-14, DC-01, DC-02). */
  http?: HttpClientOptions;
  /** `connect()` options (FM-01, FM-02, FM-04, FM-05, FM-06); also under `http.socket` unless that sets its own. */
  socket?: SocketOptions;
  /** `createPool()` tunables and socket options (FM-03, FM-08, FM-17); `host`, `port`, `connect` are the scenario's. */
  pool?: Omit<PoolOptions, 'host' | 'port' | 'connect'>;
  /** `createAckClient()` options (FM-09, FM-10, DC-03); `endpoints`, `host`, `port`, `outboxPath` are the scenario's. */
  ack?: Omit<AckClientOptions, 'endpoints' | 'host' | 'port' | 'outboxPath'>;
  /** `@breakwater/drivers` options (DC-04: `createPgPool()`); `preset` applies here too. */
  drivers?: DriverOptions;
}

/** A config as a config file's default export may give it: the object, a promise of it, or a function returning either. */
export type ScorecardConfigSource = ScorecardConfig | Promise<ScorecardConfig> | (() => ScorecardConfig | Promise<ScorecardConfig>);

/**
 * Awaits a promise and calls a function (awaiting its result): what both
 * `breakwater scorecard --config` and `expectScorecard({ config })` do
 * before {@link resolveScorecardConfig}, which refuses a promise.
 */
export async function loadConfigSource(source: unknown): Promise<unknown> {
  return await (typeof source === 'function' ? (source as () => unknown)() : source);
}

/** What a scenario reads from {@link ScenarioContext.config}: the user's options per package, validated, preset applied. */
export interface ResolvedScorecardConfig {
  /** False with no config (Breakwater's defaults): rows say "defaults" in their notes. */
  given: boolean;
  preset: PresetConfig | undefined;
  /** Spread these under the scenario's own knobs: `connect({ ...config.socket, host, port })`. */
  socket: SocketOptions;
  /** The socket options in effect (defaults ← preset ← user), for bounds computed from them. */
  effectiveSocket: ResolvedSocketOptions;
  http: HttpClientOptions;
  pool: Omit<PoolOptions, 'host' | 'port' | 'connect'>;
  ack: Omit<AckClientOptions, 'endpoints' | 'host' | 'port' | 'outboxPath'>;
  drivers: DriverOptions;
}

const SECTIONS = ['preset', 'http', 'socket', 'pool', 'ack', 'drivers'] as const;
const ITS_SERVERS = 'each scenario connects to its own servers';
const ownedBy = (reason: string, ...keys: string[]) => Object.fromEntries(keys.map((k) => [k, reason]));
/** Keys that say where a scenario's traffic goes, with why they are the scenario's: a user's would aim it elsewhere. */
const SCENARIO_OWNED: Record<string, Readonly<Record<string, string>>> = {
  pool: ownedBy(ITS_SERVERS, 'host', 'port', 'connect'),
  'pool.socket': ownedBy(`${ITS_SERVERS}, by address, name and protocol`, 'addresses', 'lookup', 'tls'),
  ack: ownedBy(ITS_SERVERS, 'endpoints', 'host', 'port', 'outboxPath'),
  http: {
    proxy: 'a proxy would carry its requests to your infrastructure instead of its servers',
    dispatcher: 'a dispatcher of your own would carry its requests instead of the connections it measures',
  },
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A `resolvePreset()` result's sections: a hand-made preset needs each, or a scenario would crash on the missing one. */
const PRESET_SECTIONS = ['loadBalancer', 'socket', 'pool', 'http', 'retry', 'circuit', 'server'] as const;

/** A hand-made preset (any section of a resolvePreset() result given), checked whole; undefined for a selection. */
function presetConfigOf(value: Record<string, unknown>): PresetConfig | undefined {
  if (!PRESET_SECTIONS.some((k) => value[k] !== undefined)) return undefined;
  const missing = PRESET_SECTIONS.find((k) => !isObject(value[k])) ?? (['infra', 'env'] as const).find((k) => typeof value[k] !== 'string');
  if (missing === undefined) return value as unknown as PresetConfig;
  throw new BreakwaterError(
    'BW_ERR_INVALID_OPTION',
    `scorecard config: \`preset.${missing}\` is missing or malformed: a hand-made preset has every part of a resolvePreset() result (infra, env, ${PRESET_SECTIONS.join(', ')})`,
    {
      details: { key: `preset.${missing}` },
      hint: 'pass resolvePreset({ infra, env, overrides }) itself, or the selection { infra: "aws-alb", env: "production" } and the scorecard resolves it',
    },
  );
}

/** `text` with the backticked `key` renamed: "Set `http.attempts`" → "Set `overrides.http.attempts`". */
const renamed = (text: string, key: string, to: string) => text.split(`\`${key}\``).join(`\`${to}\``);

/**
 * resolvePreset() names a bad override by its section (`http.attemptTimeoutMs`); in a selection it sits
 * under `overrides`, and is named so. A conflict between two of the path's numbers (`details.conflictsWith`)
 * names the resolved preset's, and stays.
 */
function inOverrides<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    const key = error instanceof BreakwaterError ? error.details.key : undefined;
    const section = typeof key === 'string' ? key.split('.')[0] : undefined;
    const isOverride = PRESET_SECTIONS.some((s) => s === section) && !(error as BreakwaterError).details.conflictsWith;
    if (!(error instanceof BreakwaterError) || error.code !== 'BW_ERR_INVALID_OPTION' || typeof key !== 'string' || !isOverride) throw error;
    const qualified = `overrides.${key}`;
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', renamed(error.message, key, qualified), {
      cause: error,
      details: { ...error.details, key: qualified },
      hint: error.hint === undefined ? undefined : renamed(error.hint, key, qualified),
    });
  }
}

/** Runs a package's validation and names the key as the config file spells it: `socket.stallTimeoutMs`. */
function within<T>(section: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    const key = error instanceof BreakwaterError ? error.details.key : undefined;
    if (!(error instanceof BreakwaterError) || error.code !== 'BW_ERR_INVALID_OPTION' || typeof key !== 'string' || key.startsWith(`${section}.`)) throw error;
    const qualified = `${section}.${key}`;
    const named = error.message.includes(`\`${key}\``) ? renamed(error.message, key, qualified) : `${error.message} (\`${qualified}\`)`;
    // "did you mean `stallTimeoutMs`?" names a key of the same section.
    const message = named.replace(/\(did you mean `([^`]+)`\?\)/, (_, near: string) => `(did you mean \`${section}.${near}\`?)`);
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', message.includes('scorecard config') ? message : `scorecard config: ${message}`, {
      cause: error,
      details: { ...error.details, key: qualified },
      hint: error.hint === undefined ? undefined : renamed(error.hint, key, qualified),
    });
  }
}

function section<T extends object>(config: Record<string, unknown>, name: string): Partial<T> {
  const value = config[name];
  if (value === undefined) return {};
  if (!isObject(value)) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `scorecard config: expected \`${name}\` to be an options object, got ${JSON.stringify(value) ?? typeof value}`,
      {
        details: { key: name },
      },
    );
  }
  refuseOwned(name, value);
  return value as Partial<T>;
}

/** `pool.host`, `http.proxy`…: where the scenario's traffic goes is the scenario's. */
function refuseOwned(name: string, value: Record<string, unknown>): void {
  const reasons = SCENARIO_OWNED[name] ?? {};
  const owned = Object.keys(reasons).find((k) => value[k] !== undefined);
  if (owned === undefined) return;
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', `scorecard config: \`${name}.${owned}\` is the scenario's (${reasons[owned]}); leave it out`, {
    details: { key: `${name}.${owned}` },
  });
}

/** `a Promise: await it first`: what a non-plain config object is, for the error. */
function describeNonPlain(value: object): string {
  if (typeof (value as { then?: unknown }).then === 'function') return 'a Promise: await it first';
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (name === 'Object') return 'an object with a prototype of its own (Object.create(…)), not a plain options object';
  const what = typeof name === 'string' && name !== '' ? name : 'non-plain object';
  return `${/^[aeiou]/i.test(what) ? 'an' : 'a'} ${what}, not a plain options object`;
}

/** A `{ … }` literal (or `Object.create(null)`): a Promise, Date or Map has no options and would run the defaults silently. */
function requirePlain(value: unknown, key: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) return;
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', `scorecard config: expected \`${key}\` to be an options object, got ${describeNonPlain(value)}`, {
    details: { key },
    hint: 'pass { preset, http, socket, pool, ack, drivers }; expectScorecard() and `breakwater scorecard --config` await a promise or call a function for you',
  });
}

/** Validates one nested `socket` section (`http.socket`, `pool.socket`, …) and names its keys in full. */
function checkSocket(key: string, value: unknown): void {
  if (value === undefined) return;
  requirePlain(value, key);
  section({ [key]: value }, key);
  within(key, () => resolveSocketOptions(value as SocketOptions, `scorecard config \`${key}\``));
}

/**
 * Calls the user's `http.layers(defaults)` once, as each scenario's createClient() will: an edit that
 * throws or returns no stack is the config's error, named `http.layers`, not every row's.
 */
function dryRunLayers(http: HttpClientOptions): void {
  try {
    previewLayers(http);
  } catch (error) {
    if (error instanceof BreakwaterError && error.code === 'BW_ERR_INVALID_OPTION') throw error;
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `\`layers\` threw when called with the default stack: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
        details: { key: 'layers' },
      },
    );
  }
}

/**
 * Validates a {@link ScorecardConfig} and applies its preset.
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` whose `details.key` names the key (`socket.stallTimeoutMs`, `preset.infra`).
 */
export function resolveScorecardConfig(config: unknown = undefined): ResolvedScorecardConfig {
  requirePlain(config, 'scorecard config');
  const given = validateOptionsObject<Record<string, unknown>>(config, 'scorecard config', SECTIONS);
  for (const name of SECTIONS) requirePlain(given[name], name);
  let preset: PresetConfig | undefined;
  if (given.preset !== undefined) {
    if (!isObject(given.preset)) {
      throw new BreakwaterError(
        'BW_ERR_INVALID_OPTION',
        'scorecard config: expected `preset` to be a resolvePreset() result or a selection like { infra: "aws-alb" }',
        {
          details: { key: 'preset' },
        },
      );
    }
    preset = presetConfigOf(given.preset) ?? within('preset', () => inOverrides(() => resolvePreset(given.preset as unknown as PresetSelection)));
    // A hand-made preset's socket and http sections are reported as the preset's, not as the user's.
    checkSocket('preset.socket', preset.socket);
    const presetHttp = preset.http;
    within('preset.http', () => resolveHttpOptions({ ...presetHttp }));
  }
  const userSocket = section<SocketOptions>(given, 'socket');
  const socket: SocketOptions = { ...preset?.socket, ...userSocket };
  const effectiveSocket = within('socket', () => resolveSocketOptions(socket, 'scorecard config'));

  const userHttp = section<HttpClientOptions>(given, 'http');
  checkSocket('http.socket', userHttp.socket);
  // The user's socket options are the http client's too, unless it sets its own (then key by key over them).
  const httpSocket = given.socket === undefined ? userHttp.socket : { ...userSocket, ...userHttp.socket };
  const http: HttpClientOptions = { ...(preset === undefined ? {} : { preset }), ...userHttp, ...(httpSocket === undefined ? {} : { socket: httpSocket }) };
  within('http', () => resolveHttpOptions(http));
  if (userHttp.layers !== undefined) within('http', () => dryRunLayers(http));

  const userPool = section<PoolOptions>(given, 'pool');
  checkSocket('pool.socket', userPool.socket);
  const pool = { ...preset?.pool, ...userPool };
  within('pool', () => resolvePoolOptions({ ...pool, port: 1 }));
  const ack = section<AckClientOptions>(given, 'ack');
  checkSocket('ack.socket', ack.socket);
  within('ack', () => resolveAckClientOptions({ ...ack, port: 1 }));
  const userDrivers = section<DriverOptions>(given, 'drivers');
  checkSocket('drivers.socket', userDrivers.socket);
  const drivers = { ...(preset === undefined ? {} : { preset }), ...userDrivers };
  within('drivers', () => resolveDriverOptions(drivers, 'scorecard config'));

  return { given: config !== undefined, preset, socket, effectiveSocket, http, pool, ack, drivers };
}

/** No config: every package's defaults. */
export const DEFAULT_SCORECARD_CONFIG: ResolvedScorecardConfig = Object.freeze(resolveScorecardConfig());

/** `stallTimeoutMs 120000, userTimeoutMs 0`: the keys of `section` the user (or the preset) set, for a row's notes. */
export function describeGiven(options: object, keys: readonly string[]): string {
  const set = keys.filter((k) => (options as Record<string, unknown>)[k] !== undefined);
  return set.map((k) => `${k} ${String((options as Record<string, unknown>)[k])}`).join(', ');
}
