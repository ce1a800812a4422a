import { describe, expect, it } from 'vitest';
import { createRedis } from './ioredis.js';

describe('createRedis()', () => {
  it('sets commandTimeout, a hardening Connector, and a hardening Connector', () => {
    const client = createRedis({ host: '127.0.0.1', port: 1, lazyConnect: true }, { queryTimeoutMs: 1_500 });
    expect(client.options.commandTimeout).toBe(1_500);
    expect(client.options.Connector?.name).toBe('HardenedConnector');
    expect(client.options.connectTimeout).toBe(3_000);
    client.disconnect();
  });

  it('lets the caller override ioredis options except the connector', () => {
    const client = createRedis({ lazyConnect: true, commandTimeout: 50, keepAlive: 1_000 });
    expect(client.options.commandTimeout).toBe(50);
    client.disconnect();
  });

  it('fails a command on a refused connection with a typed error', async () => {
    const client = createRedis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => {});
    const error = await client.get('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: expect.stringMatching(/^BW_ERR_/) });
    client.disconnect();
  });

  it('review: `sentinels` that is not a non-empty array is refused, not silently a client on localhost:6379', () => {
    for (const sentinels of ['sentinel-1:26379', [], { host: 'sentinel-1' }]) {
      expect(() => createRedis({ sentinels, name: 'mymaster', lazyConnect: true } as never)).toThrow(
        expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'sentinels' } }),
      );
    }
  });

  it('rejects unknown driver options naming them', () => {
    expect(() => createRedis({ lazyConnect: true }, { serverIdleTimeout: 5 } as never)).toThrow(/`serverIdleTimeout`/);
  });
});
