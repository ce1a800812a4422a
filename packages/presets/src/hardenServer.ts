import type http from 'node:http';
import type https from 'node:https';
import { BreakwaterError, describe } from '@breakwater/core';
import type { PresetConfig, PresetSelection, PresetServer } from './defaults.js';
import { resolvePreset } from './resolvePreset.js';
import { validatePath } from './validatePath.js';

/** What {@link hardenServer} set, and what the server had before. */
export interface HardenedServer extends PresetServer {
  /**
   * Node ≥ 24.6 keeps an idle socket `keepAliveTimeoutBuffer` (1 s by
   * default) longer than `keepAliveTimeout`, while advertising
   * `Keep-Alive: timeout=<keepAliveTimeout>`; 0 where Node has no buffer.
   */
  keepAliveTimeoutBufferMs: number;
  previous: PresetServer;
}

type NodeServer = http.Server | https.Server;

function isNodeHttpServer(value: unknown): value is NodeServer {
  const s = value as Partial<http.Server> | null;
  return (
    typeof s === 'object' && s !== null && typeof s.keepAliveTimeout === 'number' && typeof s.headersTimeout === 'number' && typeof s.listen === 'function'
  );
}

/**
 * Sets a Node `http.Server` (or `https.Server`) up for the load balancer in
 * front of it: `keepAliveTimeout` above the load balancer's upstream idle
 * timeout, so the load balancer, not the server, closes idle connections —
 * the server-side fix for the ALB 502 (FM-16); `headersTimeout` above that;
 * `requestTimeout` at least Node's 300 s and never below `headersTimeout`.
 * Call it before or after `listen()`; it returns what it set.
 *
 * @param preset a {@link resolvePreset} result, or a selection to resolve.
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` for something that is not a Node HTTP server, or a preset that fails {@link validatePath}.
 * @example
 * const server = http.createServer(app);
 * hardenServer(server, resolvePreset({ infra: 'aws-alb' })); // keepAliveTimeout 65 s, headersTimeout 66 s
 */
export function hardenServer(server: NodeServer, preset: PresetConfig | PresetSelection): HardenedServer {
  if (!isNodeHttpServer(server)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`server\` to be a Node http.Server or https.Server, got ${describe(server)}`, {
      details: { key: 'server' },
    });
  }
  const config = isConfig(preset) ? validatePath(preset) : resolvePreset(preset);
  const previous: PresetServer = {
    keepAliveTimeoutMs: server.keepAliveTimeout,
    headersTimeoutMs: server.headersTimeout,
    requestTimeoutMs: server.requestTimeout,
  };
  const { keepAliveTimeoutMs, headersTimeoutMs, requestTimeoutMs } = config.server;
  // Order matters for Node's own consistency checks: widen the outer limits first.
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  server.keepAliveTimeout = keepAliveTimeoutMs;
  const buffer = (server as { keepAliveTimeoutBuffer?: unknown }).keepAliveTimeoutBuffer;
  return { keepAliveTimeoutMs, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutBufferMs: typeof buffer === 'number' ? buffer : 0, previous };
}

function isConfig(value: PresetConfig | PresetSelection): value is PresetConfig {
  return typeof value === 'object' && value !== null && 'server' in value && 'loadBalancer' in value;
}
