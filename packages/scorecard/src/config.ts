import { type AckClientOptions, resolveAckClientOptions } from '@breakwater/ack';
import { BreakwaterError, validateOptionsObject } from '@breakwater/core';
import { type DriverOptions, resolveDriverOptions } from '@breakwater/drivers';
import { type HttpClientOptions, resolveHttpOptions } from '@breakwater/http';
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
const SCENARIO_OWNED: Record<string, readonly string[]> = {
  pool: ['host', 'port', 'connect'],
  ack: ['endpoints', 'host', 'port', 'outboxPath'],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPresetConfig = (v: Record<string, unknown>): v is PresetConfig & Record<string, unknown> => isObject(v.http) && isObject(v.loadBalancer);

/** Runs a package's validation and names the key as the config file spells it: `socket.stallTimeoutMs`. */
function within<T>(section: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    const key = error instanceof BreakwaterError ? error.details.key : undefined;
    if (!(error instanceof BreakwaterError) || error.code !== 'BW_ERR_INVALID_OPTION' || typeof key !== 'string' || key.startsWith(`${section}.`)) throw error;
    const qualified = `${section}.${key}`;
    const message = error.message.includes(`\`${key}\``) ? error.message.split(`\`${key}\``).join(`\`${qualified}\``) : `${error.message} (\`${qualified}\`)`;
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `scorecard config: ${message}`, { cause: error, details: { ...error.details, key: qualified } });
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
  const owned = (SCENARIO_OWNED[name] ?? []).find((k) => value[k] !== undefined);
  if (owned !== undefined) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `scorecard config: \`${name}.${owned}\` is the scenario's (each scenario connects to its own servers); leave it out`,
      {
        details: { key: `${name}.${owned}` },
      },
    );
  }
  return value as Partial<T>;
}

/**
 * Validates a {@link ScorecardConfig} and applies its preset.
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` whose `details.key` names the key (`socket.stallTimeoutMs`, `preset.infra`).
 */
export function resolveScorecardConfig(config: unknown = undefined): ResolvedScorecardConfig {
  const given = validateOptionsObject<Record<string, unknown>>(config, 'scorecard config', SECTIONS);
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
    preset = isPresetConfig(given.preset) ? given.preset : within('preset', () => resolvePreset(given.preset as unknown as PresetSelection));
  }
  const userSocket = section<SocketOptions>(given, 'socket');
  const socket: SocketOptions = { ...preset?.socket, ...userSocket };
  const effectiveSocket = within('socket', () => resolveSocketOptions(socket, 'scorecard config'));

  const userHttp = section<HttpClientOptions>(given, 'http');
  // The user's socket options are the http client's too, unless it sets its own (then key by key over them).
  const httpSocket = given.socket === undefined ? userHttp.socket : { ...userSocket, ...userHttp.socket };
  const http: HttpClientOptions = { ...(preset === undefined ? {} : { preset }), ...userHttp, ...(httpSocket === undefined ? {} : { socket: httpSocket }) };
  within('http', () => resolveHttpOptions(http));

  const pool = { ...preset?.pool, ...section<PoolOptions>(given, 'pool') };
  within('pool', () => resolvePoolOptions({ ...pool, port: 1 }));
  const ack = section<AckClientOptions>(given, 'ack');
  within('ack', () => resolveAckClientOptions({ ...ack, port: 1 }));
  const drivers = { ...(preset === undefined ? {} : { preset }), ...section<DriverOptions>(given, 'drivers') };
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
