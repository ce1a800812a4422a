import { FormData, Response } from 'undici';

/**
 * A one-shot request body (a `Readable`, an async or sync iterator, a web `ReadableStream`, fetch's
 * body iterator, a `FormData` encoded once) made safe to send again: the first attempt reads the
 * source lazily and records what it reads, up to `limitBytes`; a later attempt replays the recording,
 * then goes on reading the source where the earlier attempt stopped. Every attempt therefore sends the
 * same bytes. Once more than `limitBytes` were read, the recording is dropped and `replayable` is false:
 * the retry layer then gives up rather than send a short or empty body.
 *
 * The source is read through its iterator's `next()` only, never a `for await`, so undici ending an
 * attempt (it calls `return()` on that attempt's iterator) does not destroy the source.
 */
export class ReplayableBody {
  readonly #limitBytes: number;
  readonly #iterable: AsyncIterable<unknown> | Iterable<unknown>;
  #source: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  #chunks: Buffer[] = [];
  #readBytes = 0;
  #overflowed = false;
  #ended = false;
  #generation = 0;
  #pulling: Promise<Buffer | undefined> | undefined;

  constructor(iterable: AsyncIterable<unknown> | Iterable<unknown>, limitBytes: number) {
    this.#iterable = iterable;
    this.#limitBytes = limitBytes;
  }

  /** Whether a new attempt would send exactly the bytes earlier attempts sent. */
  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** Bytes read from the source so far. */
  get readBytes(): number {
    return this.#readBytes;
  }

  /** The body for the next attempt; the previous attempt's iterator stops yielding. */
  body(): AsyncIterable<Buffer> {
    const generation = ++this.#generation;
    return { [Symbol.asyncIterator]: () => this.#attempt(generation) };
  }

  /** Stops reading the source (the request is over); a stream source is destroyed by its iterator's `return()`. */
  close(): void {
    this.#generation++;
    this.#chunks = [];
    const source = this.#source;
    if (source !== undefined && !this.#ended) {
      this.#ended = true;
      try {
        void Promise.resolve(source.return?.()).catch(() => {});
      } catch {}
    }
  }

  async *#attempt(generation: number): AsyncGenerator<Buffer> {
    let i = 0;
    let sent = 0;
    while (generation === this.#generation) {
      if (!this.#overflowed && i < this.#chunks.length) {
        const chunk = this.#chunks[i++]!;
        sent += chunk.length;
        yield chunk;
        continue;
      }
      if (this.#ended) {
        if (sent !== this.#readBytes) throw notReplayable(sent, this.#readBytes);
        return;
      }
      // One read of the source at a time, shared by every attempt: a retry that starts while the
      // previous attempt still waits on the source must not issue a second next() (the two chunks
      // would be recorded out of order, one lost and one sent twice). The pending read's chunk is
      // recorded at index i, or handed to us directly once the recording is dropped.
      this.#pulling ??= this.#pull();
      const chunk = await this.#pulling;
      if (generation !== this.#generation) return;
      if (chunk === undefined || !this.#overflowed) continue;
      // Past the recording: only an attempt that sent every byte read before this chunk may go on.
      if (sent + chunk.length !== this.#readBytes) throw notReplayable(sent, this.#readBytes - chunk.length);
      sent += chunk.length;
      yield chunk;
    }
  }

  /** Reads one chunk from the source and records it; undefined at its end. */
  async #pull(): Promise<Buffer | undefined> {
    try {
      this.#source ??= sourceIterator(this.#iterable);
      const r = await this.#source.next();
      if (r.done === true) {
        this.#ended = true;
        return undefined;
      }
      const chunk = toBuffer(r.value);
      this.#readBytes += chunk.length;
      if (!this.#overflowed) {
        if (this.#readBytes <= this.#limitBytes) {
          // A copy: a producer may reuse its buffer once we have yielded it.
          this.#chunks.push(Buffer.from(chunk));
        } else {
          this.#overflowed = true;
          this.#chunks = [];
        }
      }
      return chunk;
    } finally {
      this.#pulling = undefined;
    }
  }
}

/** An attempt would have sent a short or gapped body: it fails instead (never different bytes). */
function notReplayable(sentBytes: number, readBytes: number): Error {
  return new Error(
    `request body not replayable: this attempt sent ${sentBytes} of the ${readBytes} bytes already read from the one-shot body, and the rest is no longer recorded (maxReplayBodyBytes)`,
  );
}

function sourceIterator(iterable: AsyncIterable<unknown> | Iterable<unknown>): AsyncIterator<unknown> | Iterator<unknown> {
  const asyncIt = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(iterable);
  return (iterable as Iterable<unknown>)[Symbol.iterator]();
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return Buffer.from(chunk);
  throw new TypeError(`request body chunks must be strings, Buffers or Uint8Arrays, got ${typeof chunk}`);
}

/** A body undici can send again as it is: the same value gives the same bytes. */
export function isReusableBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer ||
    Array.isArray(body) ||
    body instanceof URLSearchParams ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof body === 'object' && !isIterable(body) && !isFormDataLike(body))
  );
}

function isIterable(body: object): boolean {
  return typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function';
}

export function isFormDataLike(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'FormData';
}

/**
 * A FormData of this undici copy encoded once (one boundary for every attempt): the stream to record,
 * and its content type. undefined for any other FormData (Node's global one), which undici rejects.
 */
export function encodeFormData(form: unknown): { stream: AsyncIterable<unknown>; contentType: string } | undefined {
  if (!(form instanceof FormData)) return undefined;
  const res = new Response(form as ConstructorParameters<typeof Response>[0]);
  return { stream: res.body as unknown as AsyncIterable<unknown>, contentType: res.headers.get('content-type') ?? 'multipart/form-data' };
}
