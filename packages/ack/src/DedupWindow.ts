import type { Clock } from '@breakwater/core';

/** How one handled (or running) message ended, for every connection waiting on it. */
export type Outcome = { ok: true } | { ok: false; retryable: boolean; reason: string };
/** Told the outcome of message `id` (one function per connection, not per message). */
type Waiter = (outcome: Outcome, id: number) => void;

/** `true` once handled; while running, who waits for the outcome (one waiter, or an array when others attached). */
type Entry = true | Waiter | Waiter[];

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
  | 'outOfWindow'
  /** The floor runs further ahead of the highest id this session sent than `maxFloorAdvance`: refused, state kept. */
  | 'absurdFloor';

export class Session {
  readonly key: string;
  /** Who owns it (TLS identity, else remote address): eviction takes from the peer holding the most sessions. */
  readonly peer: string;
  /** Every id below was settled by the client; it never sends those again. */
  floor = 1;
  /** Highest id this session sent here (0: none yet). */
  highest = 0;
  lastSeenAt: number;
  /** Open connections bound to this session: a session in use is never forgotten. */
  connections = 0;
  readonly entries = new Map<number, Entry>();

  constructor(key: string, peer: string, now: number) {
    this.key = key;
    this.peer = peer;
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
 * within that time. Then the peer holding the most sessions gives up its
 * least recently seen idle one, so a flood of new sessions from one peer
 * evicts its own before anyone else's; a peer never loses a session to one
 * holding as many or more (the table then grows past `maxSessions` by
 * connected sessions only, bounded by `maxConnections`). A retransmit after that may run the
 * handler again; clients keep their send deadlines well below the horizon
 * so none is attempted.
 */
export class DedupWindow {
  readonly #sessions = new Map<string, Session>();
  readonly #perPeer = new Map<string, number>();
  readonly #maxSessions: number;
  readonly #maxFloorAdvance: number;
  readonly #maxWindow: number;
  readonly #horizonMs: number;
  readonly #clock: Clock;

  /** Sessions forgotten to make room (not by the horizon). */
  evictions = 0;

  constructor(options: { maxSessions: number; maxWindow: number; horizonMs: number; clock: Clock; maxFloorAdvance?: number }) {
    this.#maxSessions = options.maxSessions;
    this.#maxFloorAdvance = options.maxFloorAdvance ?? Number.MAX_SAFE_INTEGER;
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

  /** The session for `key`, created (and room made for it, charged to `peer`) on first sight. */
  open(key: string, peer = ''): Session {
    const now = this.#clock.now();
    let session = this.#sessions.get(key);
    if (session === undefined) {
      this.#evict(now, peer);
      session = new Session(key, peer, now);
      this.#sessions.set(key, session);
      this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1);
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

  /**
   * Decides what to do with DATA `id` carrying the client's `floor`; `waiter` learns the outcome when it is known later.
   * `now`: the clock when the frame arrived, if the caller read it already.
   */
  admit(session: Session, id: number, floor: number, waiter: Waiter, now = this.#clock.now()): Verdict {
    session.lastSeenAt = now;
    // Bounded by what the session has shown this server: a forged or broken floor cannot wipe its
    // state in one frame, nor push its ids towards 2^53 (a fresh session has nothing to protect).
    if (session.highest > 0 && floor - Math.max(session.highest, session.floor) > this.#maxFloorAdvance) return 'absurdFloor';
    if (floor > session.floor) this.#raiseFloor(session, floor);
    if (id < session.floor) return 'stale';
    if (id >= session.floor + this.#maxWindow) return 'outOfWindow';
    if (id > session.highest) session.highest = id;
    const entry = session.entries.get(id);
    if (entry === undefined) {
      session.entries.set(id, waiter);
      return 'run';
    }
    if (entry === true) return 'duplicate';
    if (typeof entry === 'function') session.entries.set(id, [entry, waiter]);
    else entry.push(waiter);
    return 'attached';
  }

  /** The handler finished for `id`: success is remembered, a failure forgotten (a retransmit runs it again). */
  complete(session: Session, id: number, outcome: Outcome): void {
    const entry = session.entries.get(id);
    if (entry === undefined || entry === true) return;
    if (outcome.ok) session.entries.set(id, true);
    else session.entries.delete(id);
    if (typeof entry === 'function') entry(outcome, id);
    else for (const w of entry) w(outcome, id);
  }

  /**
   * The outcome of `id` is unknown (the store could not commit, or the server
   * is closing): forget it without telling its waiters, so the client's
   * retransmit asks again.
   */
  abandon(session: Session, id: number): void {
    const entry = session.entries.get(id);
    if (entry !== undefined && entry !== true) session.entries.delete(id);
  }

  #raiseFloor(session: Session, floor: number): void {
    session.floor = floor;
    // Ids may arrive out of order (retransmits, several connections), so scan
    // every entry: the map holds at most about maxWindow of them.
    for (const [id, entry] of session.entries) {
      // A running handler keeps its entry until it completes (its waiters still need the outcome).
      if (id < floor && entry === true) session.entries.delete(id);
    }
  }

  #forget(s: Session): void {
    this.#sessions.delete(s.key);
    const n = (this.#perPeer.get(s.peer) ?? 1) - 1;
    if (n === 0) this.#perPeer.delete(s.peer);
    else this.#perPeer.set(s.peer, n);
  }

  #evict(now: number, requester: string): void {
    for (const s of this.#sessions.values()) {
      if (s.connections === 0 && now - s.lastSeenAt >= this.#horizonMs) this.#forget(s);
    }
    while (this.#sessions.size >= this.#maxSessions) {
      // Fair share: the idle session of the peer holding the most sessions (the requester first on a
      // tie, so a flood pays with its own), least recently seen within that peer.
      // Never from a peer holding fewer sessions than the requester: when the flooder's own sessions
      // are all connected, the table grows instead (bounded by maxConnections).
      const mine = this.#perPeer.get(requester) ?? 0;
      let victim: Session | undefined;
      let victimScore = -1;
      for (const s of this.#sessions.values()) {
        if (s.connections > 0 || (s.peer !== requester && (this.#perPeer.get(s.peer) ?? 0) <= mine)) continue;
        const score = (this.#perPeer.get(s.peer) ?? 0) * 2 + (s.peer === requester ? 1 : 0);
        if (score > victimScore || (score === victimScore && s.lastSeenAt < victim!.lastSeenAt)) {
          victim = s;
          victimScore = score;
        }
      }
      if (victim === undefined) return; // every session has a live connection: those are bounded by maxConnections
      this.#forget(victim);
      this.evictions++;
    }
  }
}
