/** Requests between dispatch and their end, retry backoffs included: close() waits for them. */
export type InFlight = { count: number; drained: (() => void) | undefined };

/** One request in flight has ended. */
export function settle(inFlight: InFlight): void {
  if (--inFlight.count === 0) inFlight.drained?.();
}
