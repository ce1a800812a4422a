import { randomBytes } from 'node:crypto';
import type { BreakwaterError } from '@breakwater/core';
import type { ResolvedAckClientOptions } from './defaults.js';
import { type OutboxContents, SqliteOutbox } from './SqliteOutbox.js';

/**
 * A client's session and its ids. Without an outbox: a random session, ids
 * from 1, in memory. With one: what the outbox decided at open (the old
 * session and ids above any it used, when messages are left to resend;
 * otherwise a fresh session), every admitted message recorded before it gets
 * its id, and deleted once settled.
 */
export class ClientSession {
  /** 16 random bytes naming the session on the servers' dedup windows. */
  readonly bytes: Buffer;
  readonly hex: string;
  #recovered: OutboxContents['messages'];
  readonly #outbox: SqliteOutbox | undefined;
  #nextId: number;
  /** Set by keep() (destroy()): unsettled messages stay in the outbox for the next start. */
  #keep = false;

  constructor(o: Pick<ResolvedAckClientOptions, 'outboxPath' | 'durability'>) {
    this.#outbox = o.outboxPath === undefined ? undefined : new SqliteOutbox(o.outboxPath, { durability: o.durability });
    const saved = this.#outbox?.load();
    this.bytes = saved?.session ?? randomBytes(16);
    this.hex = this.bytes.toString('hex');
    this.#recovered = saved?.messages ?? [];
    this.#nextId = saved?.nextId ?? 1;
  }

  /** Unsettled messages of an earlier run, in id order, to resend (none without an outbox); handed over once. */
  takeRecovered(): OutboxContents['messages'] {
    const messages = this.#recovered;
    this.#recovered = [];
    return messages;
  }

  /** The id the next admitted message gets: the floor when nothing is unsettled. */
  get nextId(): number {
    return this.#nextId;
  }

  /** Gives `payload` the next id, recorded in the outbox first; throws BW_ERR_OUTBOX_WRITE (and the id stays unused). */
  admit(payload: Buffer): number {
    this.#outbox?.put(this.#nextId, payload);
    return this.#nextId++;
  }

  /** Message `id` settled: forgets it, unless kept. Returns the delete's failure rather than throwing it. */
  settle(id: number): BreakwaterError | undefined {
    if (this.#keep) return undefined;
    try {
      this.#outbox?.delete(id);
      return undefined;
    } catch (error) {
      return error as BreakwaterError;
    }
  }

  /** From now on, settled messages stay in the outbox (destroy(): they are resent at the next start). */
  keep(): void {
    this.#keep = true;
  }

  close(): void {
    this.#outbox?.close();
  }
}
