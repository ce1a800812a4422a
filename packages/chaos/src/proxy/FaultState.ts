import type { TimerHandle } from '@breakwater/core';
import type { Rng } from '../internal/rng.js';
import type { ResolvedFault } from './faults.js';
import type { Cursor } from './shape.js';

/** Which way bytes (or a close) travel: `upstream` is client → server. */
export type Flow = 'upstream' | 'downstream';

/** What one fault does on one connection. */
export interface FaultState {
  readonly fault: ResolvedFault;
  /** The probability draw for this connection. */
  readonly applies: boolean;
  readonly rng: Rng;
  /** Counted in stats once, the first time the fault acts. */
  applied: boolean;
  /** A one-shot fault (reset, halfClose, limitData, idleReset) that already fired. */
  fired: boolean;
  readonly counted: Record<Flow, number>;
  readonly cursors: Record<Flow, Cursor>;
  timer: TimerHandle | undefined;
}

export function createFaultState(fault: ResolvedFault, applies: boolean, rng: Rng): FaultState {
  return {
    fault,
    applies,
    rng,
    applied: false,
    fired: false,
    counted: { upstream: 0, downstream: 0 },
    cursors: { upstream: { at: Number.NEGATIVE_INFINITY }, downstream: { at: Number.NEGATIVE_INFINITY } },
    timer: undefined,
  };
}

/**
 * Counts bytes for the byte-triggered faults and cuts the chunk where the
 * first threshold falls (limitData, reset; halfClose only cuts what goes to
 * the client, since client → server keeps flowing after its FIN).
 */
export function countBytes(active: Iterable<FaultState>, flow: Flow, chunk: Buffer): { data: Buffer; triggered: FaultState[] } {
  const pending: { state: FaultState; keep: number }[] = [];
  let cut = chunk.length;
  for (const state of active) {
    const f = state.fault;
    if (state.fired) continue;
    let threshold: number;
    if (f.type === 'limitData') threshold = f.bytes - state.counted[flow];
    else if ((f.type === 'reset' || f.type === 'halfClose') && f.afterBytes !== undefined)
      threshold = f.afterBytes - state.counted.upstream - state.counted.downstream;
    else continue;
    const keep = Math.max(0, threshold);
    pending.push({ state, keep });
    if (keep <= chunk.length && (f.type !== 'halfClose' || flow === 'downstream')) cut = Math.min(cut, keep);
  }
  const triggered: FaultState[] = [];
  for (const { state, keep } of pending) {
    state.counted[flow] += Math.min(keep, cut);
    if (keep <= cut) triggered.push(state);
  }
  return { data: cut === chunk.length ? chunk : chunk.subarray(0, cut), triggered };
}
