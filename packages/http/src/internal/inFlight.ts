/** A request in flight that the client can end: a run (its backoff timer included) or the composed path's tracker. */
export interface Abortable {
  abort(reason: Error): void;
}

/**
 * Requests between dispatch and their end, retry backoffs included: close() waits for them, and when its
 * deadline passes (or destroy()) aborts each one with BW_ERR_CLOSED.
 */
export interface InFlight {
  readonly runs: Set<Abortable>;
  /** Called when the last request ends. */
  drained: (() => void) | undefined;
}

export function inFlightSet(): InFlight {
  return { runs: new Set(), drained: undefined };
}

/** A request is in flight. */
export function track(inFlight: InFlight, run: Abortable): void {
  inFlight.runs.add(run);
}

/** One request in flight has ended. */
export function settle(inFlight: InFlight, run: Abortable): void {
  if (inFlight.runs.delete(run) && inFlight.runs.size === 0) inFlight.drained?.();
}
