import net from 'node:net';
import { nativeUnavailableReason } from './internal/native.js';

export type Support = 'native' | 'node' | 'emulated' | 'libuv-default' | 'unavailable';

export interface Capabilities {
  platform: NodeJS.Platform;
  node: string;
  /** Whether setsockopt through koffi works here, and why not if it does not. */
  nativeBinding: { available: boolean; reason?: string };
  options: {
    noDelay: Support;
    keepAliveIdle: Support;
    keepAliveInterval: Support;
    keepAliveCount: Support;
    userTimeout: Support;
    stallWatchdog: Support;
    connectTimeout: Support;
    happyEyeballs: Support;
    maxSegmentSize: Support;
  };
}

/**
 * What this platform and Node version can do, option by option: `node` (a
 * Node API), `native` (setsockopt through the optional koffi binding),
 * `emulated` (JavaScript timers), `libuv-default` (libuv's fixed 1 s × 10
 * keepalive probes), or `unavailable`.
 */
export function capabilities(): Capabilities {
  const reason = nativeUnavailableReason();
  const native = reason === undefined;
  const nodeInterval = net.Socket.prototype.setKeepAlive.length >= 4;
  // Linux: TCP_USER_TIMEOUT; macOS: TCP_RXT_CONNDROPTIME (whole seconds).
  const linux = process.platform === 'linux' || process.platform === 'darwin';
  const keepAliveTuning: Support = nodeInterval ? 'node' : native ? 'native' : 'libuv-default';
  return {
    platform: process.platform,
    node: process.versions.node,
    nativeBinding: native ? { available: true } : { available: false, ...(reason === undefined ? {} : { reason }) },
    options: {
      noDelay: 'node',
      keepAliveIdle: 'node',
      keepAliveInterval: keepAliveTuning,
      keepAliveCount: keepAliveTuning,
      userTimeout: native && linux ? 'native' : 'emulated',
      stallWatchdog: 'emulated',
      connectTimeout: 'emulated',
      happyEyeballs: 'emulated',
      // Needs the fd before the SYN; libuv creates it inside connect().
      maxSegmentSize: 'unavailable',
    },
  };
}
