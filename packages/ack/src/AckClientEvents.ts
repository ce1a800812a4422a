import type { BreakwaterError, Deadline } from '@breakwater/core';
import type { Ack } from './SendWindow.js';

export interface SendOptions {
  /** Cancels the send: BW_ERR_ABORTED (the message may still have been processed if it was already written). */
  signal?: AbortSignal;
  /** When to give up, as a Deadline (e.g. the caller's). @defaultValue `sendTimeoutMs` from now */
  deadline?: Deadline;
  /** When to give up, in ms from now (Breakwater's one name for a time limit); not with `deadline`. @defaultValue `sendTimeoutMs` */
  deadlineMs?: number;
}

export interface AckClientStats {
  /** Written on the current connection, not yet acknowledged. */
  inFlight: number;
  /** Accepted, waiting for the window (retransmits included). */
  queued: number;
  /** `send()` calls waiting for room (overflowPolicy 'wait'). */
  waiting: number;
  /** Payload bytes held for queued and in-flight messages (≤ maxBufferedBytes). */
  bufferedBytes: number;
  connected: boolean;
  endpoint: string | undefined;
  acked: number;
  retransmits: number;
  reconnects: number;
}

export interface AckClientEvents {
  connected: [{ endpoint: string; retransmitting: number }];
  disconnected: [{ endpoint: string; error: Error | undefined; unacked: number }];
  connectFailed: [{ endpoint: string; error: unknown }];
  retransmitted: [{ id: number; attempts: number; endpoint: string }];
  nacked: [{ id: number; reason: string; retryable: boolean }];
  /** A message recovered from the outbox at start settled (nobody awaits it: this is its outcome). */
  recovered: [{ id: number; ack: Ack | undefined; error: unknown }];
  /**
   * A settled message could not be deleted from the outbox (BW_ERR_OUTBOX_WRITE). Its send settled
   * anyway; the row is retried with the next delete, and if it is still there at the next start it is
   * resent, which the server answers from its dedup window within `dedupHorizonMs`.
   */
  outboxDeleteFailed: [{ id: number; error: BreakwaterError }];
  closed: [];
}
