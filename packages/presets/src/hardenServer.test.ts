import http from 'node:http';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { NODE_SERVER_DEFAULTS, type PresetSelection } from './defaults.js';
import { hardenServer } from './hardenServer.js';
import { resolvePreset } from './resolvePreset.js';

describe('hardenServer', () => {
  it('starts from Node’s own defaults (the 5 s keep-alive behind a 60 s ALB is FM-16)', () => {
    const server = http.createServer();
    expect({ keepAliveTimeoutMs: server.keepAliveTimeout, headersTimeoutMs: server.headersTimeout, requestTimeoutMs: server.requestTimeout }).toEqual(
      NODE_SERVER_DEFAULTS,
    );
  });

  it('sets keepAliveTimeout above the load balancer idle, headersTimeout above that, and returns what it set', () => {
    const server = http.createServer();
    const applied = hardenServer(server, resolvePreset({ infra: 'aws-alb', env: 'production' }));
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBe(66_000);
    expect(server.requestTimeout).toBe(300_000);
    expect(applied).toMatchObject({ keepAliveTimeoutMs: 65_000, headersTimeoutMs: 66_000, requestTimeoutMs: 300_000, previous: NODE_SERVER_DEFAULTS });
    expect(applied.keepAliveTimeoutBufferMs).toBe((server as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 0);
  });

  it('works on https servers and with a selection instead of a config', () => {
    const server = https.createServer();
    const applied = hardenServer(server, { infra: 'gcp-lb' });
    expect(server.keepAliveTimeout).toBe(605_000); // Google: backend keepalive above 600 s
    expect(server.headersTimeout).toBe(606_000);
    expect(server.requestTimeout).toBe(606_000);
    expect(applied.previous.keepAliveTimeoutMs).toBe(5_000);
  });

  it('rejects what is not a Node HTTP server, and a config that fails validatePath', () => {
    expect(() => hardenServer({} as http.Server, { infra: 'direct' })).toThrow(/Expected `server` to be a Node http.Server/);
    const config = resolvePreset({ infra: 'aws-alb' });
    const tampered = { ...config, server: { ...config.server, keepAliveTimeoutMs: 60_000 } };
    expect(() => hardenServer(http.createServer(), tampered)).toThrow(/`server.keepAliveTimeoutMs` \(60000 ms\) must be above/);
    expect(() => hardenServer(http.createServer(), { infra: 'nope' } as unknown as PresetSelection)).toThrow(/`infra`/);
  });
});
