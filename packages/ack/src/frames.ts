/**
 * The wire format of `@breakwater/ack`, version 1 (see docs/ack-protocol.md).
 *
 * ```
 * uint32 BE  length    bytes after this field (version + type + body)
 * uint8      version   1
 * uint8      type      HELLO 1, DATA 2, ACK 3, NACK 4, PING 5, PONG 6
 * …          body      per type, below
 * ```
 *
 * Integers are big-endian; ids are unsigned 64-bit on the wire and must stay
 * ≤ 2^53 − 1 so JavaScript can hold them exactly (anything above is a
 * protocol error).
 */

export const PROTOCOL_VERSION = 1;
/** length (4) + version (1) + type (1). */
export const HEADER_BYTES = 6;
/** DATA body before the payload: id (8) + floor (8). */
export const DATA_OVERHEAD_BYTES = HEADER_BYTES + 16;
export const SESSION_BYTES = 16;
/** NACK reasons are cut to this many UTF-8 bytes. */
export const MAX_REASON_BYTES = 1024;

export const FrameType = Object.freeze({ HELLO: 1, DATA: 2, ACK: 3, NACK: 4, PING: 5, PONG: 6 } as const);
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Opens a connection, both ways: the client's session and window; the server answers with its own window limit. */
export interface HelloFrame {
  type: 'hello';
  /** 16 random bytes naming the client session; dedup is keyed by session + id. */
  session: Buffer;
  /** Client: its `maxInFlight`. Server: the largest window it accepts. */
  window: number;
}
export interface DataFrame {
  type: 'data';
  id: number;
  /** Lowest id the client has not settled: it never sends an id below this again. */
  floor: number;
  payload: Buffer;
  /**
   * Server side only (FrameDecoder `skipOversizedData`): the frame was this
   * many bytes, over `maxFrameBytes`; its payload was discarded unread (empty here).
   */
  oversizedBytes?: number;
}
export interface AckFrame {
  type: 'ack';
  id: number;
}
export interface NackFrame {
  type: 'nack';
  id: number;
  /** The handler says another attempt may succeed. */
  retryable: boolean;
  reason: string;
}
export interface PingFrame {
  type: 'ping';
  token: number;
}
export interface PongFrame {
  type: 'pong';
  token: number;
}
export type Frame = HelloFrame | DataFrame | AckFrame | NackFrame | PingFrame | PongFrame;

function header(buf: Buffer, type: FrameTypeCode): void {
  buf.writeUInt32BE(buf.length - 4, 0);
  buf[4] = PROTOCOL_VERSION;
  buf[5] = type;
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  // Two halves: faster than BigInt and exact for every safe integer.
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

export function encodeHello(session: Buffer, window: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + SESSION_BYTES + 4);
  header(buf, FrameType.HELLO);
  session.copy(buf, HEADER_BYTES, 0, SESSION_BYTES);
  buf.writeUInt32BE(window, HEADER_BYTES + SESSION_BYTES);
  return buf;
}

/** The DATA header alone (payload written after it, so the payload is never copied). */
export function encodeDataHeader(id: number, floor: number, payloadBytes: number): Buffer {
  const buf = Buffer.allocUnsafe(DATA_OVERHEAD_BYTES);
  writeDataHeader(buf, 0, id, floor, payloadBytes);
  return buf;
}

/** Writes a DATA header into `buf` at `offset` (FrameWriter batches frames into one buffer). */
export function writeDataHeader(buf: Buffer, offset: number, id: number, floor: number, payloadBytes: number): void {
  buf.writeUInt32BE(DATA_OVERHEAD_BYTES - 4 + payloadBytes, offset);
  buf[offset + 4] = PROTOCOL_VERSION;
  buf[offset + 5] = FrameType.DATA;
  writeU64(buf, id, offset + HEADER_BYTES);
  writeU64(buf, floor, offset + HEADER_BYTES + 8);
}

/** Bytes of an ACK, PING or PONG frame. */
export const ID_FRAME_BYTES = HEADER_BYTES + 8;

/** Writes an ACK, PING or PONG frame into `buf` at `offset`. */
export function writeIdFrame(buf: Buffer, offset: number, type: FrameTypeCode, id: number): void {
  buf.writeUInt32BE(ID_FRAME_BYTES - 4, offset);
  buf[offset + 4] = PROTOCOL_VERSION;
  buf[offset + 5] = type;
  writeU64(buf, id, offset + HEADER_BYTES);
}

export function encodeData(id: number, floor: number, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeDataHeader(id, floor, payload.length), payload]);
}

function idFrame(type: FrameTypeCode, id: number): Buffer {
  const buf = Buffer.allocUnsafe(ID_FRAME_BYTES);
  writeIdFrame(buf, 0, type, id);
  return buf;
}

export const encodeAck = (id: number): Buffer => idFrame(FrameType.ACK, id);
export const encodePing = (token: number): Buffer => idFrame(FrameType.PING, token);
export const encodePong = (token: number): Buffer => idFrame(FrameType.PONG, token);

export function encodeNack(id: number, retryable: boolean, reason: string): Buffer {
  let text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_REASON_BYTES)
    text = Buffer.from(
      text
        .subarray(0, MAX_REASON_BYTES)
        .toString('utf8')
        .replace(/\uFFFD$/, ''),
      'utf8',
    );
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 9 + text.length);
  header(buf, FrameType.NACK);
  writeU64(buf, id, HEADER_BYTES);
  buf[HEADER_BYTES + 8] = retryable ? 1 : 0;
  text.copy(buf, HEADER_BYTES + 9);
  return buf;
}

/** Encodes any frame (tests and the fuzzer; the hot paths call the specific encoders). */
export function encodeFrame(frame: Frame): Buffer {
  switch (frame.type) {
    case 'hello':
      return encodeHello(frame.session, frame.window);
    case 'data':
      return encodeData(frame.id, frame.floor, frame.payload);
    case 'ack':
      return encodeAck(frame.id);
    case 'nack':
      return encodeNack(frame.id, frame.retryable, frame.reason);
    case 'ping':
      return encodePing(frame.token);
    case 'pong':
      return encodePong(frame.token);
  }
}
