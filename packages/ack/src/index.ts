export { type Ack, AckClient, createAckClient } from './AckClient.js';
export type { AckClientEvents, AckClientStats, SendOptions } from './AckClientEvents.js';
export { AckServer, type AckServerEvents, type AckServerStats, createAckServer } from './AckServer.js';
export type { DedupKey, DedupStore, DedupTransaction } from './DedupStore.js';
export { DedupWindow } from './DedupWindow.js';
export {
  ACK_CLIENT_DEFAULTS,
  ACK_SERVER_DEFAULTS,
  type AckClientOptions,
  type AckClientTunables,
  type AckEndpoint,
  type AckHandler,
  type AckHandlerContext,
  type AckServerOptions,
  type AckServerTunables,
  type NackPolicy,
  type OverflowPolicy,
  resolveAckClientOptions,
  resolveAckServerOptions,
} from './defaults.js';
export { FrameDecoder } from './FrameDecoder.js';
export {
  type AckFrame,
  type DataFrame,
  encodeFrame,
  type Frame,
  FrameType,
  type HelloFrame,
  MAX_REASON_BYTES,
  type NackFrame,
  type PingFrame,
  type PongFrame,
  PROTOCOL_VERSION,
} from './frames.js';
export { isNack } from './isNack.js';
export type { CloseOptions } from './Lifecycle.js';
export { type OutboxContents, SqliteOutbox } from './SqliteOutbox.js';
