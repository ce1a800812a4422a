import type net from 'node:net';
import { DATA_OVERHEAD_BYTES, type FrameTypeCode, ID_FRAME_BYTES, writeDataHeader, writeIdFrame } from './frames.js';

/** Frames are gathered into chunks of this size: one allocation and one socket write per chunk, not per frame. */
const CHUNK_BYTES = 16_384;
/** Payloads up to this size are copied into the chunk; larger ones are written as they are (never copied). */
const COPY_PAYLOAD_BYTES = 4_096;

/**
 * Gathers small frames written in one synchronous batch (a window of DATA,
 * a read's worth of ACKs) into one buffer and one `socket.write()`: a write
 * per frame cost a stream request, a buffer and a slot in writev per frame.
 *
 * Backpressure is unchanged: a frame reports "blocked" exactly when
 * `socket.write()` of it alone would have returned false (the socket's
 * buffered bytes plus the pending ones reach its high-water mark); the
 * pending bytes are written at that moment, so nothing waits past it.
 * Callers `flush()` at the end of every batch: outside one, nothing is pending.
 */
export class FrameWriter {
  readonly #socket: net.Socket;
  #chunk: Buffer = Buffer.alloc(0);
  /** Pending bytes are `#chunk[#start, #end)`; bytes before `#start` were handed to the socket and are never touched again. */
  #start = 0;
  #end = 0;

  constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /** DATA `id`: the header (and a small payload) into the chunk. Returns false when the socket is full (wait for 'drain'). */
  data(id: number, floor: number, payload: Buffer): boolean {
    const copy = payload.length <= COPY_PAYLOAD_BYTES;
    const at = this.#reserve(DATA_OVERHEAD_BYTES + (copy ? payload.length : 0));
    writeDataHeader(this.#chunk, at, id, floor, payload.length);
    if (copy) {
      payload.copy(this.#chunk, at + DATA_OVERHEAD_BYTES);
      return this.#room();
    }
    this.flush();
    return this.#socket.write(payload);
  }

  /** An ACK, PING or PONG frame. Returns false when the socket is full. */
  idFrame(type: FrameTypeCode, id: number): boolean {
    const at = this.#reserve(ID_FRAME_BYTES); // before reading #chunk: reserving may replace it
    writeIdFrame(this.#chunk, at, type, id);
    return this.#room();
  }

  /** Any frame already encoded (HELLO, NACK): written after the pending ones. Returns false when the socket is full. */
  frame(buf: Buffer): boolean {
    this.flush();
    return this.#socket.write(buf);
  }

  /** Writes the pending frames. Returns what `socket.write()` did (true when nothing was pending). */
  flush(): boolean {
    if (this.#end === this.#start) return true;
    const pending = this.#chunk.subarray(this.#start, this.#end);
    this.#start = this.#end;
    return this.#socket.write(pending);
  }

  /** Offset of `bytes` reserved at the end of the pending frames (a fresh chunk when they do not fit). */
  #reserve(bytes: number): number {
    if (this.#chunk.length - this.#end < bytes) {
      this.flush();
      this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
      this.#start = 0;
      this.#end = 0;
    }
    const at = this.#end;
    this.#end += bytes;
    return at;
  }

  /** As `write()` of the newest frame would answer: pending bytes reaching the high-water mark are written now. */
  #room(): boolean {
    const socket = this.#socket;
    if (socket.writableLength + (this.#end - this.#start) < socket.writableHighWaterMark) return true;
    return this.flush();
  }
}
