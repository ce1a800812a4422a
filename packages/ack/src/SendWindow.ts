import { BreakwaterError, type Clock, type Deadline, type TimerHandle } from '@breakwater/core';
import { type Backoff, createBackoff } from '@breakwater/retry';
import type { ResolvedAckClientOptions } from './defaults.js';

const EMPTY = Buffer.alloc(0);
const ADMITTED = Object.freeze({ admitted: true });
const NOT_ADMITTED = Object.freeze({ admitted: false });

/** What `send()` resolves with: the peer's handler processed the message. */
export interface Ack {
  id: number;
  /** Transmissions it took (1 unless a connection was lost, the peer went silent or a NACK was retried). */
  attempts: number;
  elapsedMs: number;
  /** `host:port` of the server that acknowledged it. */
  endpoint: string;
}

/** waiting (no room) → queued (admitted, has an id) ⇄ inflight (written) ⇄ parked (NACKed, backing off) → settled. */
export type MessageState = 'waiting' | 'queued' | 'inflight' | 'parked' | 'settled';

export interface Message {
  id: number;
  payload: Buffer;
  state: MessageState;
  attempts: number;
  sentAt: number;
  readonly startedAt: number;
  endpoint: string;
  resolve(ack: Ack): void;
  reject(error: unknown): void;
  /** A send() holds the process open until it settles (recovered messages do not). */
  holdsProcess: boolean;
  unlisten: (() => void) | undefined;
  retryTimer: TimerHandle | undefined;
  backoff: Backoff | undefined;
  lastError: unknown;
}

export type SendWindowOptions = Pick<
  ResolvedAckClientOptions,
  'clock' | 'maxInFlight' | 'maxQueuedMessages' | 'maxBufferedBytes' | 'sendTimeoutMs' | 'nackBackoff'
>;

/**
 * The client's messages, without any I/O: waiting, unsettled (in id order,
 * the first is the floor), in flight on the current connection, the bytes
 * they hold, and their deadlines. Every change of a message's state happens
 * here; the client decides when, and does the writing.
 */
export class SendWindow {
  readonly #o: SendWindowOptions;
  readonly #clock: Clock;
  /** Called when a message's deadline or signal ends it (the client settles it). */
  readonly #onExpired: (m: Message, error: BreakwaterError) => void;
  /** Admitted, not settled, in id order (Map keeps insertion order): its first key is the floor. */
  readonly #unsettled = new Map<number, Message>();
  /** Written on the current link, in the order of their last transmission. */
  readonly #inflight = new Map<number, Message>();
  readonly #waiters: Message[] = [];
  #bufferedBytes = 0;
  /** Sends on the default deadline, in admission order, with one timer for the head. */
  readonly #expiries: Message[] = [];
  #expiryHead = 0;
  #expiryTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(o: SendWindowOptions, onExpired: (m: Message, error: BreakwaterError) => void) {
    this.#o = o;
    this.#clock = o.clock;
    this.#onExpired = onExpired;
  }

  get inFlight(): number {
    return this.#inflight.size;
  }
  get unsettled(): number {
    return this.#unsettled.size;
  }
  get waiting(): number {
    return this.#waiters.length;
  }
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }
  get empty(): boolean {
    return this.#unsettled.size === 0 && this.#waiters.length === 0;
  }

  create(payload: Buffer, resolve: (ack: Ack) => void, reject: (error: unknown) => void): Message {
    return {
      id: 0,
      payload,
      state: 'waiting',
      attempts: 0,
      sentAt: 0,
      startedAt: this.#clock.now(),
      endpoint: '',
      resolve,
      reject,
      holdsProcess: false,
      unlisten: undefined,
      retryTimer: undefined,
      backoff: undefined,
      lastError: undefined,
    };
  }

  hasRoom(bytes: number): boolean {
    return this.#unsettled.size < this.#o.maxInFlight + this.#o.maxQueuedMessages && this.#bufferedBytes + bytes <= this.#o.maxBufferedBytes;
  }

  /** Room now, and nobody waiting ahead. */
  admissible(bytes: number): boolean {
    return this.#waiters.length === 0 && this.hasRoom(bytes);
  }

  wait(m: Message): void {
    this.#waiters.push(m);
  }

  /** The first waiter, taken off the queue, if there is room for it now. */
  nextWaiter(): Message | undefined {
    const head = this.#waiters[0];
    return head !== undefined && this.hasRoom(head.payload.length) ? this.#waiters.shift() : undefined;
  }

  /** What `send()` rejects with under overflowPolicy 'reject' when there is no room. */
  backpressureError(): BreakwaterError {
    return new BreakwaterError(
      'BW_ERR_BACKPRESSURE',
      `send window and queue are full (${this.#unsettled.size} messages, ${this.#bufferedBytes} bytes buffered)`,
      {
        details: { maxInFlight: this.#o.maxInFlight, maxQueuedMessages: this.#o.maxQueuedMessages, maxBufferedBytes: this.#o.maxBufferedBytes },
      },
    );
  }

  /** `m` got id `id` (recorded in the outbox if any): queued for the window. */
  admit(m: Message, id: number): void {
    m.id = id;
    m.state = 'queued';
    this.#unsettled.set(id, m);
    this.#bufferedBytes += m.payload.length;
  }

  get(id: number): Message | undefined {
    return this.#unsettled.get(id);
  }

  /** Every message not yet settled, waiters first (destroy()). */
  all(): Message[] {
    return [...this.#waiters, ...this.#unsettled.values()];
  }

  /** The lowest unsettled id, or `whenEmpty` (the next id) when none is. */
  floor(whenEmpty: number): number {
    const first = this.#unsettled.keys().next();
    return first.done === true ? whenEmpty : first.value;
  }

  /** Queued messages inside the window `[floor, floor + size)`, in id order. */
  *sendable(floor: number, size: number): Generator<Message> {
    const limit = floor + size;
    for (const m of this.#unsettled.values()) {
      if (m.id >= limit) return;
      if (m.state === 'queued') yield m;
    }
  }

  /** `m` is being written to `endpoint` at `now` (one clock read per batch): in flight, one more attempt. */
  sent(m: Message, endpoint: string, now = this.#clock.now()): void {
    m.state = 'inflight';
    m.attempts++;
    m.sentAt = now;
    m.endpoint = endpoint;
    this.#inflight.delete(m.id);
    this.#inflight.set(m.id, m);
  }

  /** When the oldest in-flight message was last written, if any is. */
  oldestSentAt(): number | undefined {
    const oldest = this.#inflight.values().next();
    return oldest.done === true ? undefined : oldest.value.sentAt;
  }

  /** In-flight messages written `ackTimeoutMs` or more ago. */
  overdue(ackTimeoutMs: number): Message[] {
    const now = this.#clock.now();
    return [...this.#inflight.values()].filter((m) => now - m.sentAt >= ackTimeoutMs);
  }

  /** The connection is gone: everything in flight is queued again (same ids). Returns how many. */
  requeueInFlight(failure: Error | undefined): number {
    const n = this.#inflight.size;
    for (const m of this.#inflight.values()) {
      m.state = 'queued';
      m.lastError = failure;
    }
    this.#inflight.clear();
    return n;
  }

  /** NACKed and retried: out of the window's way until its own backoff ends, then queued (`onReady`). */
  park(m: Message, error: unknown, onReady: () => void): void {
    m.state = 'parked';
    m.lastError = error;
    this.#inflight.delete(m.id);
    m.backoff ??= createBackoff({ ...this.#o.nackBackoff });
    m.retryTimer = this.#clock.setTimeout(() => {
      m.retryTimer = undefined;
      if (m.state !== 'parked') return;
      m.state = 'queued';
      onReady();
    }, m.backoff.next());
  }

  /**
   * Takes `m` out of every structure and frees its bytes; false if it was
   * settled already. Returns whether it had been admitted (it had an id).
   */
  settle(m: Message): { admitted: boolean } | undefined {
    if (m.state === 'settled') return undefined;
    const admitted = m.state !== 'waiting';
    const waiting = admitted ? -1 : this.#waiters.indexOf(m);
    if (waiting >= 0) this.#waiters.splice(waiting, 1);
    m.state = 'settled';
    m.unlisten?.();
    this.#clock.clearTimeout(m.retryTimer);
    if (admitted) {
      this.#unsettled.delete(m.id);
      this.#inflight.delete(m.id);
      this.#bufferedBytes -= m.payload.length;
    }
    m.payload = EMPTY;
    if (this.#expiries[this.#expiryHead] === m) this.#trimExpiries();
    return admitted ? ADMITTED : NOT_ADMITTED;
  }

  /** Ends `m` at its deadline (`sendTimeoutMs` when none is given) or when `signal` aborts. */
  /** `owned`: the deadline was made for this send (`deadlineMs`): disposed when the message settles. */
  watchExpiry(m: Message, signal: AbortSignal | undefined, deadline: Deadline | undefined, owned = false): void {
    if (deadline === undefined) {
      // The default deadline is the same for every send, so expiries come in admission order: one timer for all.
      this.#expiries.push(m);
      if (this.#expiryTimer === undefined) this.#armExpiry();
    }
    if (signal === undefined && deadline === undefined) return;
    const onSignal = () => this.#expire(m, signal?.reason);
    const onDeadline = () => this.#expire(m, deadline?.signal.reason);
    signal?.addEventListener('abort', onSignal, { once: true });
    deadline?.signal.addEventListener('abort', onDeadline, { once: true });
    m.unlisten = () => {
      signal?.removeEventListener('abort', onSignal);
      deadline?.signal.removeEventListener('abort', onDeadline);
      if (owned) deadline?.dispose();
    };
  }

  /** No more expiry timers (teardown). */
  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
  }

  /** Drops settled heads of the expiry queue, so it holds no more than the unsettled sends. */
  #trimExpiries(): void {
    const q = this.#expiries;
    while (this.#expiryHead < q.length && q[this.#expiryHead]!.state === 'settled') this.#expiryHead++;
    if (this.#expiryHead === q.length) {
      q.length = 0;
      this.#expiryHead = 0;
      this.#clock.clearTimeout(this.#expiryTimer);
      this.#expiryTimer = undefined;
    } else if (this.#expiryHead > 1_024 && this.#expiryHead * 2 > q.length) {
      q.splice(0, this.#expiryHead);
      this.#expiryHead = 0;
    }
  }

  #armExpiry(): void {
    this.#trimExpiries();
    const head = this.#expiries[this.#expiryHead];
    if (head === undefined || this.#stopped) return;
    const timeoutMs = this.#o.sendTimeoutMs;
    this.#expiryTimer = this.#clock.setTimeout(
      () => {
        this.#expiryTimer = undefined;
        const now = this.#clock.now();
        for (let m = this.#expiries[this.#expiryHead]; m !== undefined && m.startedAt + timeoutMs <= now; m = this.#expiries[this.#expiryHead]) {
          this.#expiryHead++;
          this.#expire(m, new BreakwaterError('BW_ERR_DEADLINE', `send deadline exceeded (${timeoutMs} ms)`, { details: { budgetMs: timeoutMs } }));
        }
        this.#armExpiry();
      },
      head.startedAt + timeoutMs - this.#clock.now(),
    );
  }

  #expire(m: Message, reason: unknown): void {
    if (m.state === 'settled') return;
    const cause = abortError(reason);
    if (cause.code !== 'BW_ERR_DEADLINE' || m.attempts === 0) {
      this.#onExpired(m, cause);
      return;
    }
    const elapsedMs = Math.round(this.#clock.now() - m.startedAt);
    this.#onExpired(
      m,
      new BreakwaterError(
        'BW_ERR_ACK_TIMEOUT',
        `message ${m.id} was not acknowledged within its deadline (${m.attempts} transmissions, last to ${m.endpoint})`,
        {
          cause: m.lastError ?? cause,
          hint: 'The peer process is frozen, overloaded or gone while its kernel may still ACK (half-open, FM-09). The message may or may not have been processed; a new send() is a new message.',
          details: { id: m.id, attempts: m.attempts, endpoint: m.endpoint, elapsedMs },
        },
      ),
    );
  }
}

export function abortError(reason: unknown): BreakwaterError {
  if (reason instanceof BreakwaterError) return reason;
  return new BreakwaterError('BW_ERR_ABORTED', 'send() was aborted by its signal', { cause: reason });
}
