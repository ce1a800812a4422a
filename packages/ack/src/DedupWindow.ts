import type { Clock } from '@breakwater/core';

/** How one handled (or running) message ended, for every connection waiting on it. */
export type Outcome = { ok: true } | { ok: false; retryable: boolean; reason: string };
type Waiter = (outcome: Outcome) => void;

interface Entry {
  done: boolean;
  waiters: Waiter[];
}

/** What to do with an arriving DATA frame. */
export type Verdict =
  /** New: run the handler, then call {@link DedupWindow.complete}. */
  | 'run'
  /** Handled before: ACK again without running the handler. */
  | 'duplicate'
  /** Below the session's floor: the client settled it already (ACKed or gave up); ACK, never run. */
  | 'stale'
  /** The handler is still running for it: `waiter` was queued and will be told the outcome. */
  | 'attached'
  /** At or beyond floor + window: the client broke the window contract. */
  | 'outOfWindow';

export class Session {
  readonly key: string;
  /** Every id below was settled by the client; it never sends those again. */
  floor = 1;
  lastSeenAt: number;
  /** Open connections bound to this session: a session in use is never forgotten. */
  connections = 0;
  readonly entries = new Map<number, Entry>();

  constructor(key: string, now: number) {
    this.key = key;
    this.lastSeenAt = now;
  }
}

/**
 * The receiver's memory of what it handled, keyed by session + id, so a
 * retransmit (after a lost ACK, a reconnect, a failover back) reaches the
 * handler at most once.
 *
 * Bounded: per session, only ids in [floor, floor + maxWindow) are held —
 * the client's DATA frames carry its floor (lowest unsettled id), and it
 * never sends below it again, so everything under the floor is dropped. So a
 * session holds ≤ maxWindow entries and the window holds ≤ maxSessions
 * sessions (plus any with open connections).
 *
 * Horizon: a session is remembered for at least `horizonMs` after its last
 * frame or connection, unless more than `maxSessions` sessions were active
 * within that time (then the least recently seen idle one goes first). A
 * retransmit after that may run the handler again; clients keep their send
 * deadlines well below the horizon so none is attempted.
 */
export class DedupWindow {
  readonly #sessions = new Map<string, Session>();
  readonly #maxSessions: number;
  readonly #maxWindow: number;
  readonly #horizonMs: number;
  readonly #clock: Clock;

  constructor(options: { maxSessions: number; maxWindow: number; horizonMs: number; clock: Clock }) {
    this.#maxSessions = options.maxSessions;
    this.#maxWindow = options.maxWindow;
    this.#horizonMs = options.horizonMs;
    this.#clock = options.clock;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  /** Entries held over every session (bounded by maxSessions × maxWindow). */
  get entries(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.entries.size;
    return n;
  }

  /** The session for `key`, created (and room made for it) on first sight. */
  open(key: string): Session {
    const now = this.#clock.now();
    let session = this.#sessions.get(key);
    if (session === undefined) {
      this.#evict(now);
      session = new Session(key, now);
      this.#sessions.set(key, session);
    }
    session.connections++;
    session.lastSeenAt = now;
    return session;
  }

  /** A connection bound to `session` closed. */
  release(session: Session): void {
    session.connections = Math.max(0, session.connections - 1);
    session.lastSeenAt = this.#clock.now();
  }

  /** Decides what to do with DATA `id` carrying the client's `floor`; `waiter` learns the outcome when it is known later. */
  admit(session: Session, id: number, floor: number, waiter: Waiter): Verdict {
    session.lastSeenAt = this.#clock.now();
    if (floor > session.floor) this.#raiseFloor(session, floor);
    if (id < session.floor) return 'stale';
    if (id >= session.floor + this.#maxWindow) return 'outOfWindow';
    const entry = session.entries.get(id);
    if (entry === undefined) {
      session.entries.set(id, { done: false, waiters: [waiter] });
      return 'run';
    }
    if (entry.done) return 'duplicate';
    entry.waiters.push(waiter);
    return 'attached';
  }

  /** The handler finished for `id`: success is remembered, a failure forgotten (a retransmit runs it again). */
  complete(session: Session, id: number, outcome: Outcome): void {
    const entry = session.entries.get(id);
    if (entry === undefined || entry.done) return;
    if (outcome.ok) entry.done = true;
    else session.entries.delete(id);
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w(outcome);
  }

  #raiseFloor(session: Session, floor: number): void {
    session.floor = floor;
    // Ids may arrive out of order (retransmits, several connections), so scan
    // every entry: the map holds at most about maxWindow of them.
    for (const [id, entry] of session.entries) {
      // A running handler keeps its entry until it completes (its waiters still need the outcome).
      if (id < floor && entry.done) session.entries.delete(id);
    }
  }

  #evict(now: number): void {
    for (const [key, s] of this.#sessions) {
      if (s.connections === 0 && now - s.lastSeenAt >= this.#horizonMs) this.#sessions.delete(key);
    }
    while (this.#sessions.size >= this.#maxSessions) {
      let oldest: Session | undefined;
      for (const s of this.#sessions.values()) if (s.connections === 0 && (oldest === undefined || s.lastSeenAt < oldest.lastSeenAt)) oldest = s;
      if (oldest === undefined) return; // every session has a live connection: those are bounded by connections
      this.#sessions.delete(oldest.key);
    }
  }
}
