import { BreakwaterError, msRule, resolveTunables, validateBoolean, validateFunction, validateOptionsObject } from '@breakwater/core';
import { clientIdleCeilingMs, type PresetConfig, resolvePreset } from '@breakwater/presets';
import { resolveSocketOptions, type SocketOptions } from '@breakwater/socket';

/** Options shared by `createPgPool()`, `createRedis()` and `createMysqlPool()`; every field has a safe default. */
export interface DriverOptions {
  /**
   * The path's numbers: `pool` (size, idle limit, acquire wait) and `socket`
   * (keepalive, TCP_USER_TIMEOUT, stall watchdog) sections are used.
   * @defaultValue resolvePreset({ infra: 'direct' })
   * @example { preset: resolvePreset({ infra: 'aws-nlb', env: 'production' }) }
   */
  preset?: PresetConfig;
  /** Overrides of the preset's `socket` section for this driver. @defaultValue {} */
  socket?: SocketOptions;
  /**
   * How long one query or command may wait for its answer, in ms (pg: a
   * client-side deadline plus `statement_timeout` for that statement only,
   * overridable per call with `{ text, queryTimeoutMs }`; ioredis
   * `commandTimeout`, plus the block time of a blocking command; mysql2:
   * every attempt and retry of a statement): a frozen server fails the
   * caller with BW_ERR_DEADLINE instead of hanging it. 0 disables.
   * @defaultValue 5_000
   * @example { queryTimeoutMs: 2_000 }
   */
  queryTimeoutMs?: number;
  /**
   * The server's own idle limit, in ms (PostgreSQL `idle_session_timeout`,
   * Redis `timeout`, MySQL `wait_timeout`): pooled pg and mysql2 connections are closed, and an idle Redis
   * connection is pinged, at least max(1 s, 10 %) before it. 0: the server has none.
   * @defaultValue 0
   * @example { serverIdleTimeoutMs: 300_000 }
   */
  serverIdleTimeoutMs?: number;
  /**
   * pg only: the pool talks to PgBouncer (or another pooler) in transaction
   * mode. Statement names are dropped (a named prepared statement lives on
   * one server connection; the next statement may run on another), so every
   * statement is parsed where it runs. Breakwater relies on no session state
   * either way (the per-statement `statement_timeout` ends with its statement).
   * @defaultValue false
   * @example { transactionPooling: true }
   */
  transactionPooling?: boolean;
  /**
   * Which statements (pg, mysql2: the query's first argument) or commands
   * (ioredis: `{ name, args }`) are safe to run twice, for statements without
   * their own `idempotent` flag: those are retried (pg, mysql2) or resent
   * after a reconnect (ioredis) even when they may have reached the server.
   * Without it only statements marked `{ idempotent: true }` and Redis
   * commands flagged `readonly` in Redis's command table are.
   * @defaultValue none
   * @example { isIdempotent: (q) => typeof q === 'object' && q.name?.startsWith('read-') }
   */
  isIdempotent?: (statement: unknown) => boolean;
}

export const DRIVER_DEFAULTS: Readonly<{ queryTimeoutMs: number; serverIdleTimeoutMs: number; transactionPooling: boolean }> = Object.freeze({
  queryTimeoutMs: 5_000,
  serverIdleTimeoutMs: 0,
  transactionPooling: false,
});

export interface ResolvedDriverOptions {
  queryTimeoutMs: number;
  serverIdleTimeoutMs: number;
  transactionPooling: boolean;
  isIdempotent: ((statement: unknown) => boolean) | undefined;
  preset: PresetConfig;
  /** The preset's socket section with the overrides applied. */
  socket: SocketOptions;
  /** Close (pg) or ping (Redis) a connection idle this long: below the path's and the server's idle limits. */
  idleTimeoutMs: number;
}

const RULES = { queryTimeoutMs: msRule(), serverIdleTimeoutMs: msRule(), transactionPooling: validateBoolean };
const OTHER_KEYS = ['preset', 'socket', 'isIdempotent'] as const;

let directPreset: PresetConfig | undefined;

export function resolveDriverOptions(options: DriverOptions = {}, where = 'options'): ResolvedDriverOptions {
  const { tunables: resolved, others } = resolveTunables<typeof DRIVER_DEFAULTS, DriverOptions>(options, where, DRIVER_DEFAULTS, RULES, OTHER_KEYS);
  const { preset: presetGiven, socket: socketGiven, isIdempotent: predicate } = others;
  const isIdempotent = predicate === undefined ? undefined : validateFunction<(statement: unknown) => boolean>(predicate, 'isIdempotent');
  directPreset ??= resolvePreset({ infra: 'direct' });
  const preset = presetGiven === undefined ? directPreset : validatePresetShape(presetGiven);
  // Checked now (harden() would only throw on the first connection, inside the driver).
  if (socketGiven !== undefined) resolveSocketOptions(validateOptionsObject<SocketOptions>(socketGiven, 'socket', SOCKET_OPTION_KEYS), 'socket');
  const serverCeiling = resolved.serverIdleTimeoutMs === 0 ? Number.POSITIVE_INFINITY : clientIdleCeilingMs(resolved.serverIdleTimeoutMs);
  const idleTimeoutMs = Math.max(1, Math.min(preset.pool.idleTimeoutMs, serverCeiling));
  return { ...resolved, isIdempotent, preset, socket: { ...preset.socket, ...socketGiven }, idleTimeoutMs };
}

const SOCKET_OPTION_KEYS = Object.keys(resolveSocketOptions());

function validatePresetShape(v: unknown): PresetConfig {
  const p = v as Partial<PresetConfig> | null;
  if (typeof p === 'object' && p !== null && typeof p.pool === 'object' && p.pool !== null && typeof p.socket === 'object' && p.socket !== null)
    return p as PresetConfig;
  throw new BreakwaterError(
    'BW_ERR_INVALID_OPTION',
    `Expected \`preset\` to be a preset config (from resolvePreset()), got ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
    {
      details: { key: 'preset' },
    },
  );
}
