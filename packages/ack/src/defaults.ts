import type tls from 'node:tls';
import {
  type BackoffShape,
  BreakwaterError,
  backoffRule,
  type Clock,
  foldBackoffAliases,
  intRule,
  monotonicClock,
  msRule,
  resolveTunables,
  validateClock,
  validateFunction,
  validateOneOf,
  validateOptionsObject,
  validatePort,
  validateString,
} from '@breakwater/core';
import type { RetryBudget } from '@breakwater/retry';
import { SOCKET_DEFAULTS, type SocketOptions } from '@breakwater/socket';
import type { DedupStore } from './DedupStore.js';

/** What `send()` does when the window and the queue are full (FM-10). */
export type OverflowPolicy = 'wait' | 'reject';
/** What the client does with a NACK (the peer's handler failed). */
export type NackPolicy = 'reject' | 'retry';
/** What an outbox write survives: `normal` a process crash, `fsync` a power loss too. */
export type OutboxDurability = 'normal' | 'fsync';

/** Tunables of {@link createAckClient}; every one is in the README defaults table. */
export interface AckClientTunables {
  /**
   * Messages written and not yet acknowledged. A sliding window over ids, as
   * in TCP: id `n` is sent only once every id below `n − maxInFlight` is
   * settled, which is what bounds the server's dedup state per session.
   * @defaultValue 64 @example 256
   */
  maxInFlight?: number;
  /** Messages accepted by `send()` and waiting for the window. @defaultValue 1_024 @example 10_000 */
  maxQueuedMessages?: number;
  /**
   * Payload bytes the client holds, queued and in flight together (kept for
   * retransmission). The bound of FM-10: more and `send()` waits or rejects.
   * @defaultValue 8_388_608 (8 MiB) @example 67_108_864
   */
  maxBufferedBytes?: number;
  /** `wait`: `send()` waits for room (within its deadline); `reject`: it fails at once with BW_ERR_BACKPRESSURE. @defaultValue 'wait' */
  overflowPolicy?: OverflowPolicy;
  /** Largest frame sent or accepted, length prefix included, in bytes. @defaultValue 1_048_576 @example 16_777_216 */
  maxFrameBytes?: number;
  /**
   * No ACK for this long after a message was written: the client probes the
   * peer with a PING; if the peer answers, the message is retransmitted on
   * the same connection (the dedup window makes that harmless), otherwise the
   * connection is dropped and every unacked message goes out again on the
   * next one. @defaultValue 5_000 @example 30_000
   */
  ackTimeoutMs?: number;
  /** A PING is sent after this long without any frame from the peer. @defaultValue 2_000 @example 10_000 */
  heartbeatIntervalMs?: number;
  /** A PING unanswered for this long means the peer process is gone or frozen (FM-09): reconnect. @defaultValue 3_000 @example 10_000 */
  heartbeatTimeoutMs?: number;
  /** Deadline of a `send()` given none. Must stay below `serverDedupHorizonMs` (validated). @defaultValue 30_000 @example 5_000 */
  sendTimeoutMs?: number;
  /**
   * The `dedupHorizonMs` of the servers (and of their PostgreSQL dedup store) this client sends to: how long they
   * remember a message. A retransmit after that could run the handler again, so `sendTimeoutMs` and every
   * per-send `deadline` must stay below it — checked at `createAckClient()` and at `send()` (BW_ERR_INVALID_OPTION).
   * The wire does not carry it: set it when your servers use a horizon other than the default.
   * @defaultValue 300_000 (the server's default) @example 3_600_000
   */
  serverDedupHorizonMs?: number;
  /** `reject`: a NACK fails the send; `retry`: NACKs marked retryable are resent with backoff (through the budget) until the deadline. @defaultValue 'reject' */
  nackPolicy?: NackPolicy;
  /**
   * Full-jitter backoff before a retryable NACK is resent (`nackPolicy: 'retry'`),
   * per message, in ms: `baseDelayMs` doubling up to `maxDelayMs`. Independent of
   * `reconnectBackoff`: a handler that is busy is not a link that is down.
   * @defaultValue { baseDelayMs: 100, maxDelayMs: 5_000 } @example { baseDelayMs: 500, maxDelayMs: 60_000 }
   */
  nackBackoff?: Partial<BackoffShape>;
  /**
   * Full-jitter reconnect backoff, in ms; `maxDelayMs` is also the wait when the retry budget refuses.
   * @defaultValue { baseDelayMs: 100, maxDelayMs: 5_000 } @example { baseDelayMs: 50, maxDelayMs: 30_000 }
   */
  reconnectBackoff?: Partial<BackoffShape>;
  /** Whole connect phase per attempt (DNS, TCP, TLS), in ms. @defaultValue 3_000 @example 1_000 */
  connectTimeoutMs?: number;
  /**
   * With `outboxPath`: `normal` (SQLite WAL, `synchronous = NORMAL`) keeps
   * every admitted message through a process crash (SIGKILL, OOM kill); a
   * power loss or kernel panic may lose the last ones admitted. `fsync`
   * (`synchronous = FULL`) syncs each one to disk before it is sent, at the
   * cost of one fsync per message. Ids are never reused either way.
   * @defaultValue 'normal' @example 'fsync'
   */
  durability?: OutboxDurability;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export interface AckEndpoint {
  host: string;
  port: number;
}

export interface AckClientOptions extends AckClientTunables {
  /** Servers, tried in order; on failure the client moves to the next (failover). */
  endpoints?: readonly AckEndpoint[];
  /** One server (instead of `endpoints`). @defaultValue '127.0.0.1' */
  host?: string;
  port?: number;
  /** Passed to `@breakwater/socket` `connect()`: `true` or TLS options. @defaultValue false */
  tls?: boolean | tls.ConnectionOptions;
  /** Socket hardening (keepalive, TCP_USER_TIMEOUT, stall watchdog) passed to `connect()`. @defaultValue the socket package's defaults */
  socket?: Omit<SocketOptions, 'clock' | 'connectTimeoutMs' | 'expectResponseAfterWrite'>;
  /** Budget every reconnect is drawn from (each `send()` deposits). @defaultValue a budget per client */
  retryBudget?: RetryBudget;
  /**
   * SQLite file (node:sqlite) of a durable outbox: admitted messages survive
   * a crash and are resent on restart under the same session and ids; new
   * messages after a restart never reuse an id (see `durability`). One
   * client per file (a second gets BW_ERR_OUTBOX_LOCKED).
   * @defaultValue none (messages live in memory only)
   * @example '/var/lib/orders/ack-outbox.sqlite'
   */
  outboxPath?: string;
  /** @deprecated Use `nackBackoff.baseDelayMs`; removed in the next release. */
  nackRetryBaseDelayMs?: number;
  /** @deprecated Use `nackBackoff.maxDelayMs`; removed in the next release. */
  nackRetryMaxDelayMs?: number;
  /** @deprecated Use `reconnectBackoff.baseDelayMs`; removed in the next release. */
  reconnectBaseDelayMs?: number;
  /** @deprecated Use `reconnectBackoff.maxDelayMs`; removed in the next release. */
  reconnectMaxDelayMs?: number;
}

/** {@link AckClientTunables} resolved: every field set, the backoffs complete. */
export type ResolvedAckClientTunables = Omit<Required<AckClientTunables>, 'nackBackoff' | 'reconnectBackoff'> & {
  nackBackoff: BackoffShape;
  reconnectBackoff: BackoffShape;
};

export const ACK_CLIENT_DEFAULTS = Object.freeze({
  maxInFlight: 64,
  maxQueuedMessages: 1_024,
  maxBufferedBytes: 8_388_608,
  overflowPolicy: 'wait' as OverflowPolicy,
  maxFrameBytes: 1_048_576,
  ackTimeoutMs: 5_000,
  heartbeatIntervalMs: 2_000,
  heartbeatTimeoutMs: 3_000,
  sendTimeoutMs: 30_000,
  serverDedupHorizonMs: 300_000,
  nackPolicy: 'reject' as NackPolicy,
  // Equal to the reconnect backoff, which NACK retries used before they had options of their own.
  nackBackoff: Object.freeze({ baseDelayMs: 100, maxDelayMs: 5_000 }),
  reconnectBackoff: Object.freeze({ baseDelayMs: 100, maxDelayMs: 5_000 }),
  // The number lives in @breakwater/socket; this package only passes it on.
  connectTimeoutMs: SOCKET_DEFAULTS.connectTimeoutMs,
  durability: 'normal' as OutboxDurability,
  clock: monotonicClock,
}) satisfies ResolvedAckClientTunables;

/** Tunables of {@link createAckServer}. */
export interface AckServerTunables {
  /** Largest frame accepted or sent, length prefix included, in bytes. @defaultValue 1_048_576 */
  maxFrameBytes?: number;
  /**
   * Largest client window (`maxInFlight`) accepted; also the most dedup
   * entries one session can hold. @defaultValue 1_024
   */
  maxWindow?: number;
  /**
   * Sessions remembered for dedup. When full, the peer (TLS identity, else
   * remote address) holding the most sessions gives up its least recently
   * active idle one: a flood from one peer evicts its own sessions, never
   * another peer's. @defaultValue 4_096
   */
  maxSessions?: number;
  /**
   * A session idle this long (no connection, no frame) is forgotten: a
   * retransmit arriving later could run the handler again. Keep clients'
   * `sendTimeoutMs` below it. @defaultValue 300_000 @example 3_600_000
   */
  dedupHorizonMs?: number;
  /** Handlers running at once per connection, counted per frame; above it the server stops reading (TCP pushes back). @defaultValue 64 */
  maxConcurrency?: number;
  /**
   * A connection that completes no frame for this long (and runs no handler)
   * is closed — clients PING every `heartbeatIntervalMs` when idle, and a
   * peer trickling one byte at a time does not count as alive.
   * @defaultValue 30_000
   */
  idleTimeoutMs?: number;
  /** Open connections; more are closed as they arrive (Node's `server.maxConnections`). @defaultValue 1_024 @example 10_000 */
  maxConnections?: number;
  /** A connection that has not sent its HELLO this long after the TCP (and TLS) handshake is closed. @defaultValue 5_000 @example 1_000 */
  helloTimeoutMs?: number;
  /**
   * Bytes held across all connections: unfinished frames, decoded frames
   * waiting for a handler slot, payloads of running handlers. Above it the
   * server stops reading from the connection that pushed it over (TCP
   * pushes back) until handlers release memory. Overshoot: at most one
   * socket read (64 KiB) per connection. @defaultValue 67_108_864 (64 MiB) @example 268_435_456
   */
  maxTotalBufferedBytes?: number;
  /**
   * How far a DATA frame's floor may run ahead of the highest id its session
   * has sent to this server (ids settled elsewhere or given up unsent are
   * legitimately skipped). Beyond it: BW_ERR_PROTOCOL, the connection is
   * closed and the session keeps its state. @defaultValue 4_294_967_296 @example 1_000_000
   */
  maxFloorAdvance?: number;
  /**
   * `close()` waits this long for running handlers, then closes every
   * connection anyway: their messages get no ACK and are retransmitted (the
   * memory store may then run them again elsewhere; the PostgreSQL store
   * rolls their transaction back). @defaultValue 10_000 @example 30_000
   */
  closeTimeoutMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

/** What the handler learns about the message besides its payload. */
export interface AckHandlerContext<Tx = undefined> {
  id: number;
  /** Hex session id (prefixed with the peer's certificate fingerprint when TLS client certificates are verified). */
  session: string;
  /** The dedup store's transaction (PostgreSQL: the `pg` client inside BEGIN): write with it and the effect commits with the dedup record. */
  tx: Tx;
}

/** Runs once per message (per session + id); resolve → ACK, throw → NACK with the error's message. */
export type AckHandler<Tx = undefined> = (payload: Buffer, context: AckHandlerContext<Tx>) => unknown;

export interface AckServerOptions<Tx = undefined> extends AckServerTunables {
  handler: AckHandler<Tx>;
  /**
   * Where handled (session, id) pairs are recorded. @defaultValue the in-memory
   * dedup window (exactly-once per server process within `dedupHorizonMs`)
   * @example createPgDedupStore({ pool }) // from '@breakwater/ack/pg'
   */
  dedupStore?: DedupStore<Tx>;
  /**
   * TLS server options (key, cert, ca, requestCert…): the server speaks TLS.
   * With `requestCert` and a verified client certificate, sessions are bound
   * to the certificate: another client cannot use, evict or poison them.
   * @defaultValue plain TCP
   */
  tls?: tls.TlsOptions;
}

export const ACK_SERVER_DEFAULTS = Object.freeze({
  maxFrameBytes: 1_048_576,
  maxWindow: 1_024,
  maxSessions: 4_096,
  dedupHorizonMs: 300_000,
  maxConcurrency: 64,
  idleTimeoutMs: 30_000,
  maxConnections: 1_024,
  helloTimeoutMs: 5_000,
  maxTotalBufferedBytes: 67_108_864,
  maxFloorAdvance: 4_294_967_296,
  closeTimeoutMs: 10_000,
  clock: monotonicClock,
}) satisfies Required<AckServerTunables>;

const frameBytes = intRule(64, 0x7fff_ffff);

export type ResolvedAckClientOptions = ResolvedAckClientTunables & {
  endpoints: readonly AckEndpoint[];
  tls: boolean | tls.ConnectionOptions | undefined;
  socket: AckClientOptions['socket'];
  retryBudget: RetryBudget | undefined;
  outboxPath: string | undefined;
};

const CLIENT_KEYS = ['endpoints', 'host', 'port', 'tls', 'socket', 'retryBudget', 'outboxPath'] as const;
const NACK_ALIASES = { baseDelayMs: 'nackRetryBaseDelayMs', maxDelayMs: 'nackRetryMaxDelayMs' } as const;
const RECONNECT_ALIASES = { baseDelayMs: 'reconnectBaseDelayMs', maxDelayMs: 'reconnectMaxDelayMs' } as const;

/** Validates and fills in defaults; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveAckClientOptions(options: AckClientOptions): ResolvedAckClientOptions {
  // The flat names of an earlier release, folded into the nested options (issue #17).
  let folded = foldBackoffAliases(options, 'nackBackoff', NACK_ALIASES, ACK_CLIENT_DEFAULTS.nackBackoff);
  folded = foldBackoffAliases(folded, 'reconnectBackoff', RECONNECT_ALIASES, ACK_CLIENT_DEFAULTS.reconnectBackoff);
  const { tunables: o, others: given } = resolveTunables<ResolvedAckClientTunables, AckClientOptions>(
    folded,
    'createAckClient()',
    ACK_CLIENT_DEFAULTS,
    {
      maxInFlight: intRule(1, 65_536),
      maxQueuedMessages: intRule(0, 10_000_000),
      maxBufferedBytes: intRule(1, Number.MAX_SAFE_INTEGER),
      overflowPolicy: (v, k) => validateOneOf(v, k, ['wait', 'reject'] as const),
      maxFrameBytes: frameBytes,
      ackTimeoutMs: msRule(1),
      heartbeatIntervalMs: msRule(1),
      heartbeatTimeoutMs: msRule(1),
      sendTimeoutMs: msRule(1),
      serverDedupHorizonMs: msRule(1),
      nackPolicy: (v, k) => validateOneOf(v, k, ['reject', 'retry'] as const),
      nackBackoff: backoffRule(ACK_CLIENT_DEFAULTS.nackBackoff),
      reconnectBackoff: backoffRule(ACK_CLIENT_DEFAULTS.reconnectBackoff),
      connectTimeoutMs: msRule(1, 600_000),
      durability: (v, k) => validateOneOf(v, k, ['normal', 'fsync'] as const),
      clock: validateClock,
    },
    CLIENT_KEYS,
  );
  if (o.sendTimeoutMs >= o.serverDedupHorizonMs) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`sendTimeoutMs\` (${o.sendTimeoutMs}) to be below \`serverDedupHorizonMs\` (${o.serverDedupHorizonMs}): a message retransmitted after the servers forgot it could be handled twice`,
      { details: { key: 'sendTimeoutMs' }, hint: "Lower sendTimeoutMs, or raise the servers' dedupHorizonMs and tell the client with serverDedupHorizonMs." },
    );
  }
  if (options?.durability !== undefined && given.outboxPath === undefined) {
    // Without a file there is nothing to sync: refuse rather than let a caller believe in durability it lacks.
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `outboxPath` beside `durability`: without an outbox, messages live in memory only', {
      details: { key: 'durability' },
    });
  }
  return {
    ...o,
    endpoints: resolveEndpoints(given),
    tls: resolveTls(given.tls),
    socket: resolveObject(given.socket, 'socket'),
    retryBudget: resolveBudget(given.retryBudget),
    outboxPath: given.outboxPath === undefined ? undefined : validateString(given.outboxPath, 'outboxPath'),
  };
}

function resolveEndpoints(given: AckClientOptions): AckEndpoint[] {
  if (given.endpoints !== undefined) {
    if (given.host !== undefined || given.port !== undefined) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected either `endpoints` or `host`/`port`, not both', { details: { key: 'endpoints' } });
    }
    if (!Array.isArray(given.endpoints) || given.endpoints.length === 0) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `endpoints` to be a non-empty array of { host, port }', { details: { key: 'endpoints' } });
    }
    return given.endpoints.map((e, i) => {
      const ep = validateOptionsObject<AckEndpoint>(e, `\`endpoints[${i}]\``, ['host', 'port']);
      return { host: validateString(ep.host ?? '127.0.0.1', `endpoints[${i}].host`), port: validatePort(ep.port, `endpoints[${i}].port`) };
    });
  }
  if (given.port === undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `port` (or `endpoints`) to say where the server listens, got undefined', {
      details: { key: 'port' },
    });
  }
  return [{ host: validateString(given.host ?? '127.0.0.1', 'host'), port: validatePort(given.port) }];
}

function resolveTls(v: unknown): boolean | tls.ConnectionOptions | undefined {
  if (v === undefined || typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v)))
    return v as boolean | tls.ConnectionOptions | undefined;
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `tls` to be a boolean or TLS options', { details: { key: 'tls' } });
}

function resolveObject<T>(v: unknown, key: string): T | undefined {
  if (v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v))) return v as T | undefined;
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${key}\` to be an options object`, { details: { key } });
}

function resolveBudget(v: unknown): RetryBudget | undefined {
  if (v === undefined) return undefined;
  const b = v as Partial<RetryBudget>;
  if (typeof b !== 'object' || b === null || typeof b.tryRetry !== 'function' || typeof b.recordRequest !== 'function') {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `retryBudget` to be a RetryBudget', { details: { key: 'retryBudget' } });
  }
  return v as RetryBudget;
}

export type ResolvedAckServerOptions<Tx = undefined> = Required<AckServerTunables> & {
  handler: AckHandler<Tx>;
  dedupStore: DedupStore<Tx> | undefined;
  tls: tls.TlsOptions | undefined;
};

/** Validates and fills in defaults; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveAckServerOptions<Tx = undefined>(options: AckServerOptions<Tx>): ResolvedAckServerOptions<Tx> {
  const keys = ['handler', 'dedupStore', 'tls'] as const;
  const { tunables: o, others: given } = resolveTunables<Required<AckServerTunables>, AckServerOptions<Tx>>(
    options,
    'createAckServer()',
    ACK_SERVER_DEFAULTS,
    {
      maxFrameBytes: frameBytes,
      maxWindow: intRule(1, 65_536),
      maxSessions: intRule(1, 10_000_000),
      dedupHorizonMs: msRule(1),
      maxConcurrency: intRule(1, 65_536),
      idleTimeoutMs: msRule(1),
      maxConnections: intRule(1, 1_000_000),
      helloTimeoutMs: msRule(1),
      maxTotalBufferedBytes: intRule(65_536, Number.MAX_SAFE_INTEGER),
      maxFloorAdvance: intRule(1, Number.MAX_SAFE_INTEGER),
      closeTimeoutMs: msRule(),
      clock: validateClock,
    },
    keys,
  );
  if (o.maxTotalBufferedBytes < o.maxFrameBytes) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`maxTotalBufferedBytes\` to be >= \`maxFrameBytes\` (${o.maxFrameBytes}), got ${o.maxTotalBufferedBytes}: one largest frame must fit`,
      { details: { key: 'maxTotalBufferedBytes' } },
    );
  }
  return {
    ...o,
    handler: validateFunction<AckHandler<Tx>>(given.handler, 'handler'),
    dedupStore: resolveStore<Tx>(given.dedupStore),
    tls: resolveObject<tls.TlsOptions>(given.tls, 'tls'),
  };
}

function resolveStore<Tx>(v: unknown): DedupStore<Tx> | undefined {
  if (v === undefined) return undefined;
  const s = v as Partial<DedupStore<Tx>> | null;
  if (typeof s !== 'object' || s === null || typeof s.begin !== 'function') {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `dedupStore` to be a DedupStore (an object with begin())', { details: { key: 'dedupStore' } });
  }
  return v as DedupStore<Tx>;
}
