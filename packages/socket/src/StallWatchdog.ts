import type net from 'node:net';
import { BreakwaterError, type Clock, type TimerHandle } from '@breakwater/core';

/**
 * Destroys a socket that makes no progress while progress is owed: a
 * response is expected, or written data is waiting in user space. Works on
 * every platform (no native option needed) and is the fallback for
 * TCP_USER_TIMEOUT (FM-02) and the only cure for a PMTU black hole (FM-06),
 * where small packets pass and large ones vanish without an error.
 *
 * One lazy timer per socket: progress only records a timestamp; when the
 * timer fires early relative to the last progress it re-arms for the rest.
 */
export class StallWatchdog {
  readonly #socket: net.Socket;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #describePeer: () => string;
  #timer: TimerHandle | undefined;
  #lastProgressAt = 0;
  #expecting = 0;
  #lastWritable = 0;
  #disposed = false;

  constructor(socket: net.Socket, timeoutMs: number, clock: Clock, describePeer: () => string) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#describePeer = describePeer;
  }

  /** True while the watchdog is counting. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** A response is owed from now on (nested calls count). */
  expect(): void {
    this.#expecting++;
    this.#evaluate(true);
  }

  /** The awaited response is complete. */
  settle(): void {
    if (this.#expecting > 0) this.#expecting--;
    this.#evaluate(false);
  }

  /** Forget every open expectation (the first byte of a response arrived). */
  settleAll(): void {
    this.#expecting = 0;
    this.#evaluate(false);
  }

  /** Bytes arrived or the write buffer drained: the connection is alive. */
  progress(): void {
    this.#lastProgressAt = this.#clock.now();
    this.#lastWritable = this.#socket.writableLength;
  }

  /** Data was handed to write(): if it did not all leave, watch it drain. */
  wrote(): void {
    this.#evaluate(true);
  }

  dispose(): void {
    this.#disposed = true;
    this.#disarm();
  }

  #owed(): boolean {
    return this.#expecting > 0 || this.#socket.writableLength > 0;
  }

  #evaluate(fresh: boolean): void {
    if (this.#disposed || this.#timeoutMs === 0) return;
    if (!this.#owed()) {
      this.#disarm();
      return;
    }
    if (this.#timer === undefined) {
      if (fresh) this.progress();
      this.#arm(this.#timeoutMs);
    }
  }

  #arm(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#check(), delayMs);
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#disposed || this.#socket.destroyed || !this.#owed()) return;
    // A shrinking write buffer is progress even if no 'drain' fired yet.
    if (this.#socket.writableLength < this.#lastWritable) this.progress();
    const idleMs = this.#clock.now() - this.#lastProgressAt;
    if (idleMs < this.#timeoutMs) {
      this.#arm(this.#timeoutMs - idleMs);
      return;
    }
    const pending = this.#socket.writableLength;
    const what =
      pending > 0
        ? `${pending} bytes waiting to be written`
        : `a response expected (${this.#socket.bytesWritten} bytes sent, ${this.#socket.bytesRead} received)`;
    this.#socket.destroy(
      new BreakwaterError('BW_ERR_STALLED', `no progress from ${this.#describePeer()} for ${Math.round(idleMs)} ms with ${what}`, {
        hint: 'Small packets pass but nothing more arrives: a PMTU black hole (ICMP "fragmentation needed" filtered, FM-06), a dead peer or path (FM-02), or a frozen server process. Check MTUs on the path and `breakwater doctor`.',
        details: {
          stallTimeoutMs: this.#timeoutMs,
          idleMs: Math.round(idleMs),
          writableLength: pending,
          bytesWritten: this.#socket.bytesWritten,
          bytesRead: this.#socket.bytesRead,
        },
      }),
    );
  }
}
