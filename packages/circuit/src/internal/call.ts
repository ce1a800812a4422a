import { BreakwaterError, type Clock, type TimerHandle } from '@breakwater/core';

/** One call's own AbortSignal and time limit: nothing here is shared between calls. */
export interface Call {
  readonly signal: AbortSignal;
  /** This call's time limit in ms (0: none). */
  readonly timeoutMs: number;
  readonly timedOut: boolean;
  /** The caller's signal ended the call: says nothing about the upstream. */
  readonly callerAborted: boolean;
  /** Settles like `work`, or rejects at the time limit or on caller abort, whichever comes first. */
  run<T>(work: (signal: AbortSignal) => T | Promise<T>): Promise<T>;
  dispose(): void;
}

export function startCall(o: { key: string; timeoutMs: number; clock: Clock; callerSignal: AbortSignal | undefined; probe: boolean }): Call {
  const controller = new AbortController();
  let timedOut = false;
  let callerAborted = false;
  let timer: TimerHandle | undefined;
  let rejectRace: (reason: unknown) => void = () => {};
  const race = new Promise<never>((_, reject) => {
    rejectRace = reject;
  });
  race.catch(() => {});

  const onCallerAbort = () => {
    callerAborted = true;
    controller.abort(o.callerSignal?.reason);
    rejectRace(o.callerSignal?.reason);
  };
  const dispose = () => {
    o.clock.clearTimeout(timer);
    timer = undefined;
    o.callerSignal?.removeEventListener('abort', onCallerAbort);
  };

  if (o.callerSignal?.aborted) onCallerAbort();
  else {
    o.callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    if (o.timeoutMs > 0 && Number.isFinite(o.timeoutMs)) {
      timer = o.clock.setTimeout(() => {
        timedOut = true;
        const what = o.probe ? 'half-open probe' : 'call';
        const error = new BreakwaterError('BW_ERR_DEADLINE', `${what} to ${o.key} timed out after ${o.timeoutMs} ms`, {
          retryable: true,
          hint: 'The upstream did not answer in time: slow or gone. The breaker counts it as a failure; another attempt may succeed (FM-12).',
          details: { key: o.key, timeoutMs: o.timeoutMs, phase: 'request' },
        });
        controller.abort(error);
        rejectRace(error);
      }, o.timeoutMs);
    }
  }

  return {
    signal: controller.signal,
    timeoutMs: o.timeoutMs,
    get timedOut() {
      return timedOut;
    },
    get callerAborted() {
      return callerAborted;
    },
    run: (work) => Promise.race([Promise.resolve().then(() => work(controller.signal)), race]),
    dispose,
  };
}
