import { BreakwaterError, validateNumber } from '@breakwater/core';
import { DATA_OVERHEAD_BYTES, type Frame, FrameType, HEADER_BYTES, MAX_REASON_BYTES, PROTOCOL_VERSION, SESSION_BYTES } from './frames.js';

/** Length prefix, version, type, id and floor: what an oversized DATA frame must show before its body is skipped. */
const DATA_HEADER_BYTES = DATA_OVERHEAD_BYTES;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const TWO_32 = 0x1_0000_0000;

/**
 * Turns a byte stream into frames. Pure: no sockets, no timers, no state
 * beyond the bytes of an unfinished frame, so connection state machines stay
 * free of parsing and the parser can be fuzzed on its own.
 *
 * Every violation — wrong version, unknown type, a body of the wrong size, an
 * id above 2^53 − 1, a frame over `maxFrameBytes` (checked from the length
 * field, before the body is buffered) — throws `BW_ERR_PROTOCOL`, and the
 * decoder stays failed: the caller closes the connection.
 *
 * Memory: at most one frame (≤ `maxFrameBytes`) plus the chunk that completed it.
 *
 * @example
 * const decoder = new FrameDecoder({ maxFrameBytes: 1_048_576 });
 * socket.on('data', (chunk) => { for (const frame of decoder.push(chunk)) handle(frame); });
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes the frame at the head needs in total (prefix included); 0 while unknown. */
  #need = 0;
  #failure: BreakwaterError | undefined;
  /** See the constructor's `skipOversizedData`. */
  readonly #skipOversized: boolean;
  /** Oversized DATA is skipped only after a HELLO: before one, a connection has no session to refuse it in. */
  #helloSeen = false;
  /** Bytes of an oversized DATA frame still to discard as they arrive. */
  #skipping = 0;

  /**
   * `skipOversizedData` (the server): after a HELLO, a DATA frame over
   * `maxFrameBytes` is not an error: its header is returned as a DataFrame with an empty payload
   * and `oversizedBytes`, and its body is discarded as it arrives, never
   * buffered — so the server can refuse that one message (a client configured
   * with a larger `maxFrameBytes`) instead of closing the connection on every
   * retransmit of it.
   */
  constructor(options: { maxFrameBytes?: number; skipOversizedData?: boolean } = {}) {
    this.maxFrameBytes = validateNumber(options.maxFrameBytes ?? 1_048_576, 'maxFrameBytes', { min: 64, max: 0x7fff_ffff, integer: true });
    this.#skipOversized = options.skipOversizedData === true;
  }

  /** Bytes held for an unfinished frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Feeds bytes; returns every frame they complete, in order. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failure !== undefined) throw this.#failure;
    let bytes = chunk;
    if (this.#skipping > 0) {
      const dropped = Math.min(this.#skipping, bytes.length);
      this.#skipping -= dropped;
      bytes = bytes.subarray(dropped);
    }
    if (bytes.length === 0) return [];
    this.#chunks.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    this.#buffered += bytes.length;
    const frames: Frame[] = [];
    try {
      for (;;) {
        if (this.#need === 0) {
          if (this.#buffered < 4) break;
          const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : this.#flatten();
          const length = head.readUInt32BE(0);
          if (length < 2) throw protocolError(`frame length ${length} is shorter than its version and type bytes`);
          if (length + 4 > this.maxFrameBytes) {
            if (!(this.#skipOversized && this.#helloSeen)) {
              throw protocolError(`frame of ${length + 4} bytes exceeds \`maxFrameBytes\` (${this.maxFrameBytes})`, { frameBytes: length + 4 });
            }
            if (this.#buffered < DATA_HEADER_BYTES) break;
            frames.push(this.#skipData(length + 4));
            continue;
          }
          this.#need = length + 4;
        }
        if (this.#buffered < this.#need) break;
        // Parse every complete frame of the flattened buffer in one pass.
        const buf = this.#flatten();
        let offset = 0;
        while (buf.length - offset >= 4) {
          const length = buf.readUInt32BE(offset);
          if (length < 2) throw protocolError(`frame length ${length} is shorter than its version and type bytes`);
          if (length + 4 > this.maxFrameBytes) break; // decided at the head, above
          if (buf.length - offset < length + 4) break;
          const frame = parseFrame(buf, offset + 4, length);
          if (frame.type === 'hello') this.#helloSeen = true;
          frames.push(frame);
          offset += length + 4;
        }
        const rest = buf.subarray(offset);
        this.#chunks = rest.length === 0 ? [] : [rest];
        this.#buffered = rest.length;
        this.#need = 0;
      }
    } catch (error) {
      this.#failure = error instanceof BreakwaterError ? error : protocolError('undecodable frame', {}, error);
      this.#chunks = [];
      this.#buffered = 0;
      throw this.#failure;
    }
    return frames;
  }

  /** The oversized DATA frame at the head (its header buffered): returned without payload, the rest of it discarded. */
  #skipData(frameBytes: number): Frame {
    const buf = this.#flatten();
    const frame = parseFrame(buf, 4, DATA_HEADER_BYTES - 4);
    if (frame.type !== 'data') {
      throw protocolError(`frame of ${frameBytes} bytes exceeds \`maxFrameBytes\` (${this.maxFrameBytes})`, { frameBytes });
    }
    const held = Math.min(frameBytes, buf.length);
    const rest = buf.subarray(held);
    this.#chunks = rest.length === 0 ? [] : [rest];
    this.#buffered = rest.length;
    this.#skipping = frameBytes - held;
    return { ...frame, payload: Buffer.alloc(0), oversizedBytes: frameBytes };
  }

  #flatten(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    return this.#chunks[0]!;
  }
}

function protocolError(message: string, details: Record<string, unknown> = {}, cause?: unknown): BreakwaterError {
  return new BreakwaterError('BW_ERR_PROTOCOL', `ack protocol: ${message}`, { details, cause });
}

function readId(body: Buffer, offset: number, what: string): number {
  const high = body.readUInt32BE(offset);
  const low = body.readUInt32BE(offset + 4);
  const value = high * TWO_32 + low;
  if (!Number.isSafeInteger(value)) throw protocolError(`${what} above 2^53 - 1`);
  return value;
}

function expectBody(bodyBytes: number, exact: number, name: string): void {
  if (bodyBytes !== exact) throw protocolError(`${name} body of ${bodyBytes} bytes, expected ${exact}`);
}

/**
 * Parses one frame without its length prefix (version, type, body): the
 * `length` bytes of `buf` from `start`. Read in place: only a DATA payload
 * (and a NACK reason) is cut out of `buf`, so an ACK costs no Buffer view.
 */
function parseFrame(buf: Buffer, start: number, length: number): Frame {
  const version = buf[start];
  if (version !== PROTOCOL_VERSION) throw protocolError(`unsupported version ${version} (this side speaks ${PROTOCOL_VERSION})`, { version });
  const type = buf[start + 1];
  const body = start + HEADER_BYTES - 4;
  const bodyBytes = length - (HEADER_BYTES - 4);
  const end = start + length;
  switch (type) {
    case FrameType.HELLO: {
      expectBody(bodyBytes, SESSION_BYTES + 4, 'HELLO');
      const window = buf.readUInt32BE(body + SESSION_BYTES);
      if (window === 0) throw protocolError('HELLO with a window of 0');
      // Copied: the session outlives the chunk it arrived in.
      return { type: 'hello', session: Buffer.from(buf.subarray(body, body + SESSION_BYTES)), window };
    }
    case FrameType.DATA: {
      if (bodyBytes < 16) throw protocolError(`DATA body of ${bodyBytes} bytes, expected at least 16`);
      const id = readId(buf, body, 'DATA id');
      const floor = readId(buf, body + 8, 'DATA floor');
      if (id === 0 || floor === 0 || floor > id) throw protocolError(`DATA id ${id} with floor ${floor}: ids start at 1 and the floor never passes the id`);
      return { type: 'data', id, floor, payload: buf.subarray(body + 16, end) };
    }
    case FrameType.ACK:
      expectBody(bodyBytes, 8, 'ACK');
      return { type: 'ack', id: readId(buf, body, 'ACK id') };
    case FrameType.NACK: {
      if (bodyBytes < 9 || bodyBytes > 9 + MAX_REASON_BYTES) throw protocolError(`NACK body of ${bodyBytes} bytes, expected 9 to ${9 + MAX_REASON_BYTES}`);
      const flags = buf[body + 8]!;
      if (flags > 1) throw protocolError(`NACK flags ${flags}: only bit 0 (retryable) is defined`);
      let reason: string;
      try {
        reason = utf8.decode(buf.subarray(body + 9, end));
      } catch (error) {
        throw protocolError('NACK reason is not valid UTF-8', {}, error);
      }
      return { type: 'nack', id: readId(buf, body, 'NACK id'), retryable: flags === 1, reason };
    }
    case FrameType.PING:
      expectBody(bodyBytes, 8, 'PING');
      return { type: 'ping', token: readId(buf, body, 'PING token') };
    case FrameType.PONG:
      expectBody(bodyBytes, 8, 'PONG');
      return { type: 'pong', token: readId(buf, body, 'PONG token') };
    default:
      throw protocolError(`unknown frame type ${type}`, { frameType: type });
  }
}
