import { describe, expect, it } from 'vitest';
import { flattenDefaults, formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { ACK_CLIENT_DEFAULTS, ACK_SERVER_DEFAULTS, resolveAckClientOptions, resolveAckServerOptions } from './defaults.js';
import { PG_DEDUP_STORE_DEFAULTS } from './pg.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key }) });
const handler = () => {};

describe('ack defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    const all = { ...ACK_CLIENT_DEFAULTS, ...ACK_SERVER_DEFAULTS, ...PG_DEDUP_STORE_DEFAULTS };
    expect(PG_DEDUP_STORE_DEFAULTS.dedupHorizonMs).toBe(ACK_SERVER_DEFAULTS.dedupHorizonMs);
    // Options both sides have must agree, or one README row could not describe them.
    for (const key of Object.keys(ACK_SERVER_DEFAULTS)) {
      if (key in ACK_CLIENT_DEFAULTS) expect(ACK_SERVER_DEFAULTS[key as keyof typeof ACK_SERVER_DEFAULTS]).toBe(all[key as keyof typeof all]);
    }
    const rows = flattenDefaults(all);
    for (const [key, value] of rows) expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    expect(table.size).toBe(rows.size);
  });

  it('resolve to the defaults and are frozen', () => {
    const c = resolveAckClientOptions({ port: 1 });
    for (const [k, v] of Object.entries(ACK_CLIENT_DEFAULTS)) expect(c[k as keyof typeof c]).toBe(v);
    expect(c.endpoints).toEqual([{ host: '127.0.0.1', port: 1 }]);
    const s = resolveAckServerOptions({ handler });
    for (const [k, v] of Object.entries(ACK_SERVER_DEFAULTS)) expect(s[k as keyof typeof s]).toBe(v);
    expect(Object.isFrozen(ACK_CLIENT_DEFAULTS) && Object.isFrozen(ACK_SERVER_DEFAULTS)).toBe(true);
  });

  it('take each backoff as one nested { baseDelayMs, maxDelayMs }, errors naming the full path', () => {
    const c = resolveAckClientOptions({ port: 1, reconnectBackoff: { baseDelayMs: 1_000, maxDelayMs: 1_000 }, nackBackoff: { maxDelayMs: 100 } });
    // Independent: a slow reconnect does not force slow NACK retries, nor the reverse; a field left out keeps its default.
    expect([c.reconnectBackoff, c.nackBackoff]).toEqual([
      { baseDelayMs: 1_000, maxDelayMs: 1_000 },
      { baseDelayMs: 100, maxDelayMs: 100 },
    ]);
    expect(() => resolveAckClientOptions({ port: 1, reconnectBackoff: { baseDelayMs: 500, maxDelayMs: 100 } })).toThrow(
      /Expected `reconnectBackoff.maxDelayMs` to be >= `reconnectBackoff.baseDelayMs` \(500\), got 100/,
    );
    expect(() => resolveAckClientOptions({ port: 1, nackBackoff: { baseDelayMs: 500, maxDelayMs: 100 } })).toThrow(invalid('nackBackoff.maxDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, nackBackoff: { baseDelayMs: -1 } })).toThrow(invalid('nackBackoff.baseDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, reconnectBackoff: { maxDelayMs: 2 ** 31 } })).toThrow(invalid('reconnectBackoff.maxDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, reconnectBackoff: { maxDelay: 5 } as never })).toThrow(invalid('reconnectBackoff.maxDelay'));
    expect(() => resolveAckClientOptions({ port: 1, reconnectBackoff: 100 as never })).toThrow(invalid('reconnectBackoff'));
  });

  it('still accept the deprecated flat backoff names, but not beside the nested option', () => {
    const c = resolveAckClientOptions({ port: 1, reconnectBaseDelayMs: 50, reconnectMaxDelayMs: 200, nackRetryMaxDelayMs: 300 });
    expect([c.reconnectBackoff, c.nackBackoff]).toEqual([
      { baseDelayMs: 50, maxDelayMs: 200 },
      { baseDelayMs: 100, maxDelayMs: 300 },
    ]);
    expect(c).not.toHaveProperty('reconnectBaseDelayMs');
    // Errors name the flat key the caller wrote.
    expect(() => resolveAckClientOptions({ port: 1, reconnectBaseDelayMs: 500, reconnectMaxDelayMs: 100 })).toThrow(invalid('reconnectMaxDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, nackRetryBaseDelayMs: -1 })).toThrow(invalid('nackRetryBaseDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, reconnectBackoff: { baseDelayMs: 10 }, reconnectMaxDelayMs: 200 })).toThrow(
      /Expected either `reconnectBackoff` or its deprecated flat form \(`reconnectMaxDelayMs`\), not both/,
    );
    expect(() => resolveAckClientOptions({ port: 1, nackBackoff: {}, nackRetryBaseDelayMs: 10 })).toThrow(invalid('nackBackoff'));
  });

  it('keep the send deadline below the dedup horizon, so no retransmit outlives the server memory', () => {
    expect(ACK_CLIENT_DEFAULTS.sendTimeoutMs).toBeLessThan(ACK_SERVER_DEFAULTS.dedupHorizonMs);
    expect(ACK_CLIENT_DEFAULTS.maxInFlight).toBeLessThanOrEqual(ACK_SERVER_DEFAULTS.maxWindow);
  });

  it('reject bad options naming the key', () => {
    expect(() => resolveAckClientOptions({ port: 1, maxInFlight: 0 })).toThrow(invalid('maxInFlight'));
    expect(() => resolveAckClientOptions({ port: 1, ackTimeoutMs: -1 })).toThrow(invalid('ackTimeoutMs'));
    expect(() => resolveAckClientOptions({ port: 1, overflowPolicy: 'drop' as never })).toThrow(invalid('overflowPolicy'));
    expect(() => resolveAckClientOptions({ port: 1, nackPolicy: 'ignore' as never })).toThrow(invalid('nackPolicy'));
    expect(() => resolveAckClientOptions({ port: 1, maxFrameBytes: 10 })).toThrow(invalid('maxFrameBytes'));
    expect(() => resolveAckClientOptions({ port: 1, nackRetryDelayMs: 5 } as never)).toThrow(invalid('nackRetryDelayMs'));
    expect(() => resolveAckClientOptions({ port: 1, ackTimeout: 5 } as never)).toThrow(invalid('ackTimeout'));
    expect(() => resolveAckClientOptions({})).toThrow(invalid('port'));
    expect(() => resolveAckClientOptions({ port: 70_000 })).toThrow(invalid('port'));
    expect(() => resolveAckClientOptions({ endpoints: [] })).toThrow(invalid('endpoints'));
    expect(() => resolveAckClientOptions({ endpoints: [{ host: 'a', port: 1 }], port: 2 })).toThrow(invalid('endpoints'));
    expect(() => resolveAckClientOptions({ endpoints: [{ host: 'a', port: -1 }] })).toThrow(invalid('endpoints[0].port'));
    expect(() => resolveAckClientOptions({ port: 1, tls: 'yes' as never })).toThrow(invalid('tls'));
    expect(() => resolveAckClientOptions({ port: 1, retryBudget: {} as never })).toThrow(invalid('retryBudget'));
    expect(() => resolveAckClientOptions({ port: 1, clock: {} as never })).toThrow(invalid('clock'));
    expect(() => resolveAckClientOptions({ port: 1, durability: 'fsync' })).toThrow(invalid('durability'));
    expect(() => resolveAckClientOptions({ port: 1, outboxPath: '/tmp/x', durability: 'paranoid' as never })).toThrow(invalid('durability'));
    expect(resolveAckClientOptions({ port: 1, outboxPath: '/tmp/x', durability: 'fsync' }).durability).toBe('fsync');
    // Retransmits must end before the servers forget a message (issue 14): validated against the horizon the client is told.
    expect(() => resolveAckClientOptions({ port: 1, sendTimeoutMs: 300_000 })).toThrow(invalid('sendTimeoutMs'));
    expect(() => resolveAckClientOptions({ port: 1, sendTimeoutMs: 120_000, serverDedupHorizonMs: 60_000 })).toThrow(/below `serverDedupHorizonMs` \(60000\)/);
    expect(resolveAckClientOptions({ port: 1, sendTimeoutMs: 600_000, serverDedupHorizonMs: 3_600_000 }).sendTimeoutMs).toBe(600_000);
    expect(() => resolveAckClientOptions({ port: 1, serverDedupHorizonMs: 0 })).toThrow(invalid('serverDedupHorizonMs'));
    expect(() => resolveAckServerOptions({} as never)).toThrow(invalid('handler'));
    expect(() => resolveAckServerOptions({ handler, maxWindow: 0 })).toThrow(invalid('maxWindow'));
    expect(() => resolveAckServerOptions({ handler, dedupHorizonMs: 1.5 })).toThrow(invalid('dedupHorizonMs'));
    expect(() => resolveAckServerOptions({ handler, tls: 1 as never })).toThrow(invalid('tls'));
    expect(() => resolveAckServerOptions({ handler, maxConnections: 0 })).toThrow(invalid('maxConnections'));
    expect(() => resolveAckServerOptions({ handler, helloTimeoutMs: 0 })).toThrow(invalid('helloTimeoutMs'));
    expect(() => resolveAckServerOptions({ handler, maxFloorAdvance: -1 })).toThrow(invalid('maxFloorAdvance'));
    expect(() => resolveAckServerOptions({ handler, closeTimeoutMs: 1.5 })).toThrow(invalid('closeTimeoutMs'));
    expect(() => resolveAckServerOptions({ handler, maxTotalBufferedBytes: 100_000, maxFrameBytes: 200_000 })).toThrow(invalid('maxTotalBufferedBytes'));
    expect(() => resolveAckServerOptions({ handler, dedupStore: {} as never })).toThrow(invalid('dedupStore'));
    expect(() => resolveAckServerOptions({ handler, maxconnections: 5 } as never)).toThrow(/did you mean `maxConnections`/);
  });
});
