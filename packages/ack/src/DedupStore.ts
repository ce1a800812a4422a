/**
 * Where an ack server records which (session, id) pairs its handler ran,
 * so a retransmit is answered without running it again.
 *
 * The server always keeps an in-process {@link DedupWindow} in front of the
 * store: it attaches a retransmit to a handler still running in this
 * process and remembers what this process handled. The store is asked only
 * about ids the window does not know — after a restart, a failover from
 * another server, or once the window forgot the session.
 *
 * The default (no `dedupStore`) is the window alone: exactly-once per server
 * process within `dedupHorizonMs`. A shared, transactional store (the
 * PostgreSQL one at `@breakwater/ack/pg`) makes it exactly-once effects
 * across a fleet: the handler writes through the transaction `begin()`
 * opened, and its effects commit together with the dedup record, or neither
 * does.
 */
export interface DedupStore<Tx = undefined> {
  /**
   * Claims `(session, id)` for this process. Resolves with `'done'` when the
   * store holds a committed record (another process, or this one before a
   * restart, handled it: ACK without running), otherwise with a transaction
   * the handler runs in. Waits while another process holds the same claim
   * uncommitted. Rejects when the store is unreachable: the server then
   * closes the connection without answering, and the client retransmits.
   */
  begin(key: DedupKey): Promise<DedupTransaction<Tx> | 'done'>;
  /** How long a record is kept: clients' `sendTimeoutMs` must stay below it. */
  readonly dedupHorizonMs?: number;
}

export interface DedupKey {
  /** The session as the handler sees it (hex, identity-prefixed under verified TLS client certificates). */
  session: string;
  id: number;
}

export interface DedupTransaction<Tx> {
  /** Given to the handler as `context.tx`. */
  readonly tx: Tx;
  /**
   * The handler resolved: record `(session, id)` with its writes, atomically.
   * A rejection means the outcome is unknown (the commit may or may not have
   * happened): the server sends nothing and closes the connection, and the
   * client's retransmit asks the store again.
   */
  commit(): Promise<void>;
  /** The handler threw: undo its writes and the claim (the retransmit runs it again, as with the window). */
  rollback(): Promise<void>;
}
