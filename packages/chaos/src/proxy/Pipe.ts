import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '@breakwater/core';

/** A piece of data and the monotonic time at which it may be written. */
export interface Timed {
  data: Buffer;
  at: number;
}

interface QueuedItem extends Timed {
  /** Runs once `data` has been handed to the kernel (limitData, afterBytes faults). */
  after?: (() => void) | undefined;
}

export interface PipeOptions {
  clock: Clock;
  maxBufferedBytes: number;
  /** Bytes handed to `dest`, for the proxy's stats. */
  onWritten: (bytes: number) => void;
}

/**
 * One direction of a proxied connection: an ordered queue of chunks, each
 * released at its own time (latency, bandwidth, slicer), written to `dest`
 * with backpressure. The sender is paused while `dest` is not draining or more
 * than `maxBufferedBytes` wait in the queue, so a slow reader or a long delay
 * turns into TCP flow control on the sender, not into proxy memory.
 */
export class Pipe {
  readonly #source: Socket;
  readonly #dest: Socket;
  readonly #options: PipeOptions;
  #queue: QueuedItem[] = [];
  #head = 0;
  #queuedBytes = 0;
  /** Release time of the last queued item: later chunks never overtake it. */
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  #waitingDrain = false;
  #pausedSource = false;
  /** Set while #pump runs: an `after` callback may end or push re-entrantly. */
  #pumping = false;
  #state: 'open' | 'ending' | 'ended' | 'destroyed' = 'open';

  constructor(source: Socket, dest: Socket, options: PipeOptions) {
    this.#source = source;
    this.#dest = dest;
    this.#options = options;
  }

  /** False once end() or destroy() was called: new data is dropped. */
  get accepting(): boolean {
    return this.#state === 'open';
  }

  /** Queues pieces (in order); `after` runs once the last one was written. */
  push(pieces: readonly Timed[], after?: () => void): void {
    if (this.#state !== 'open') return;
    pieces.forEach((piece, i) => {
      const at = Math.max(piece.at, this.#lastAt);
      this.#lastAt = at;
      this.#queue.push({ data: piece.data, at, after: i === pieces.length - 1 ? after : undefined });
      this.#queuedBytes += piece.data.length;
    });
    if (pieces.length === 0 && after !== undefined) this.#queue.push({ data: Buffer.alloc(0), at: this.#lastAt, after });
    this.#kick();
  }

  /** Ends `dest` (FIN) once everything queued was written; later data is dropped. */
  end(): void {
    if (this.#state !== 'open') return;
    this.#state = 'ending';
    this.#kick();
  }

  /** Drops the queue and every timer; the sender is resumed so its data keeps being read (and discarded). */
  destroy(): void {
    if (this.#state === 'destroyed') return;
    this.#state = 'destroyed';
    this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dest.off('drain', this.#onDrain);
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#waitingDrain = false;
    this.#updateFlow();
  }

  #done(): boolean {
    return this.#state === 'destroyed' || this.#state === 'ended';
  }

  #kick(): void {
    if (this.#timer === undefined && !this.#pumping) this.#pump();
  }

  readonly #onDrain = (): void => {
    this.#waitingDrain = false;
    this.#pump();
  };

  readonly #pump = (): void => {
    this.#timer = undefined;
    if (this.#done()) return;
    this.#pumping = true;
    try {
      this.#drainQueue();
    } finally {
      this.#pumping = false;
    }
    // An `after` callback may have ended or destroyed this pipe.
    if (this.#done()) return;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      if (this.#state === 'ending') this.#finishEnd();
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#updateFlow();
  };

  #drainQueue(): void {
    const { clock } = this.#options;
    while (this.#head < this.#queue.length && !this.#waitingDrain) {
      const item = this.#queue[this.#head]!;
      const wait = item.at - clock.now();
      if (wait > 0) {
        // Timers may fire a fraction of a millisecond early: re-check and re-arm.
        this.#timer = clock.setTimeout(this.#pump, Math.max(1, Math.ceil(wait)));
        break;
      }
      this.#queue[this.#head++] = undefined as unknown as QueuedItem;
      this.#queuedBytes -= item.data.length;
      this.#write(item);
    }
  }

  #write(item: QueuedItem): void {
    const dest = this.#dest;
    const { after } = item;
    // `after` runs even when the write cannot happen: a reset must not be lost with its bytes.
    if (item.data.length === 0 || dest.destroyed || !dest.writable) {
      after?.();
      return;
    }
    this.#options.onWritten(item.data.length);
    const flushed = dest.write(item.data, after === undefined ? undefined : () => after());
    if (!flushed) {
      this.#waitingDrain = true;
      dest.once('drain', this.#onDrain);
    }
  }

  #finishEnd(): void {
    this.#state = 'ended';
    this.#dest.off('drain', this.#onDrain);
    this.#waitingDrain = false;
    if (!this.#dest.destroyed && this.#dest.writable) this.#dest.end();
  }

  #updateFlow(): void {
    const open = this.#state === 'open' || this.#state === 'ending';
    const shouldPause = open && (this.#waitingDrain || this.#queuedBytes >= this.#options.maxBufferedBytes);
    if (shouldPause && !this.#pausedSource) {
      this.#pausedSource = true;
      this.#source.pause();
    } else if (!shouldPause && this.#pausedSource) {
      this.#pausedSource = false;
      if (!this.#source.destroyed) this.#source.resume();
    }
  }
}
