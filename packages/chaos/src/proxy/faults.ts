/**
 * The faults a {@link FaultProxy} can inject, named like Envoy's fault filter
 * and Toxiproxy's toxics. Every fault has a `probability`, decided once per
 * connection with the proxy's seeded generator (when the connection opens, or
 * when the fault is added for connections already open).
 */

/**
 * Which bytes a fault acts on. `upstream` is client → server, `downstream`
 * is server → client.
 */
export type FaultDirection = 'upstream' | 'downstream' | 'both';

interface FaultCommon {
  /**
   * Chance, decided once per connection, that the fault acts on that
   * connection at all.
   * @defaultValue 1
   * @example { type: 'reset', probability: 0.05 } // 5 % of connections
   */
  probability?: number;
}

interface Directional {
  /** @defaultValue 'both' */
  direction?: FaultDirection;
}

/** Delays every chunk by `latencyMs` ± `jitterMs`; order is preserved. */
export interface LatencyFault extends FaultCommon, Directional {
  type: 'latency';
  /** Added to every chunk, in milliseconds. */
  latencyMs: number;
  /** Uniform random ± spread around `latencyMs`, in milliseconds. @defaultValue 0 */
  jitterMs?: number;
}

/** Throttles the stream to `bytesPerSecond` (each direction on its own). */
export interface BandwidthFault extends FaultCommon, Directional {
  type: 'bandwidth';
  /** Throughput ceiling, in bytes per second. */
  bytesPerSecond: number;
}

/** Cuts chunks into small pieces, `delayMs` apart: exercises parsers that assume whole frames. */
export interface SlicerFault extends FaultCommon, Directional {
  type: 'slicer';
  /** Mean piece size, in bytes. */
  averageSize: number;
  /** Uniform random ± spread around `averageSize`, in bytes. @defaultValue 0 */
  sizeVariation?: number;
  /** Gap between pieces, in milliseconds. @defaultValue 0 */
  delayMs?: number;
}

/** Keeps both sockets open and swallows every byte: a peer that went silent. */
export interface BlackholeFault extends FaultCommon, Directional {
  type: 'blackhole';
}

/**
 * Resets the client with a TCP RST (and closes the upstream), at once, after
 * `afterMs`, or once `afterBytes` bytes have passed in `direction`.
 */
export interface ResetFault extends FaultCommon, Directional {
  type: 'reset';
  /** Milliseconds after the connection opened (or the fault was added). */
  afterMs?: number;
  /** Bytes forwarded in `direction` before the reset; they are sent first. */
  afterBytes?: number;
}

/** Sends a FIN to the client (server → client ends) but keeps forwarding client → server. */
export interface HalfCloseFault extends FaultCommon, Directional {
  type: 'halfClose';
  /** Milliseconds after the connection opened (or the fault was added). */
  afterMs?: number;
  /** Bytes forwarded in `direction` before the FIN; they are sent first. */
  afterBytes?: number;
}

/** Delays telling one side that the other closed (FIN or RST) by `delayMs`. */
export interface SlowCloseFault extends FaultCommon, Directional {
  type: 'slowClose';
  /** How long a close is held back, in milliseconds. */
  delayMs: number;
}

/** Forwards `bytes` bytes in `direction`, then closes the connection (FIN to both sides). */
export interface LimitDataFault extends FaultCommon, Directional {
  type: 'limitData';
  /** Bytes allowed through per direction, counted from when the fault began on the connection. */
  bytes: number;
}

/**
 * The load-balancer idle race (FM-07/FM-16): when the client sends on a
 * connection that carried no traffic for at least `idleMs`, the data is
 * dropped and the client gets a TCP RST.
 */
export interface IdleResetFault extends FaultCommon {
  type: 'idleReset';
  /** Idle time, in milliseconds, after which reuse is punished. */
  idleMs: number;
}

export type FaultSpec =
  | LatencyFault
  | BandwidthFault
  | SlicerFault
  | BlackholeFault
  | ResetFault
  | HalfCloseFault
  | SlowCloseFault
  | LimitDataFault
  | IdleResetFault;

export type FaultType = FaultSpec['type'];

export const FAULT_TYPES = Object.freeze([
  'latency',
  'bandwidth',
  'slicer',
  'blackhole',
  'reset',
  'halfClose',
  'slowClose',
  'limitData',
  'idleReset',
] as const) satisfies readonly FaultType[];

/**
 * Defaults of the optional fields, per fault. Fields missing here are required,
 * except `afterMs`/`afterBytes` (neither means "at once").
 * The table in README.md is checked against this object by a test.
 */
export const FAULT_DEFAULTS = Object.freeze({
  latency: Object.freeze({ probability: 1, direction: 'both', jitterMs: 0 }),
  bandwidth: Object.freeze({ probability: 1, direction: 'both' }),
  slicer: Object.freeze({ probability: 1, direction: 'both', sizeVariation: 0, delayMs: 0 }),
  blackhole: Object.freeze({ probability: 1, direction: 'both' }),
  reset: Object.freeze({ probability: 1, direction: 'both' }),
  halfClose: Object.freeze({ probability: 1, direction: 'both' }),
  slowClose: Object.freeze({ probability: 1, direction: 'both' }),
  limitData: Object.freeze({ probability: 1, direction: 'both' }),
  idleReset: Object.freeze({ probability: 1 }),
} as const) satisfies { [T in FaultType]: Partial<Extract<FaultSpec, { type: T }>> };

interface ResolvedCommon {
  readonly id: string;
  readonly probability: number;
  /** Always set; `both` for faults without a direction. */
  readonly direction: FaultDirection;
}

/** A validated fault with every default filled in. */
export type ResolvedFault = ResolvedCommon &
  (
    | { readonly type: 'latency'; readonly latencyMs: number; readonly jitterMs: number }
    | { readonly type: 'bandwidth'; readonly bytesPerSecond: number }
    | { readonly type: 'slicer'; readonly averageSize: number; readonly sizeVariation: number; readonly delayMs: number }
    | { readonly type: 'blackhole' }
    | { readonly type: 'reset' | 'halfClose'; readonly afterMs: number | undefined; readonly afterBytes: number | undefined }
    | { readonly type: 'slowClose'; readonly delayMs: number }
    | { readonly type: 'limitData'; readonly bytes: number }
    | { readonly type: 'idleReset'; readonly idleMs: number }
  );

/** Whether a fault with this `direction` acts on bytes flowing `flow`. */
export function appliesTo(direction: FaultDirection, flow: 'upstream' | 'downstream'): boolean {
  return direction === 'both' || direction === flow;
}
