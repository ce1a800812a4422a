import type { Dispatcher } from 'undici';

/** undici's interceptor shape: `dispatch => (opts, handler) => boolean`. */
export type Interceptor = Dispatcher.DispatcherComposeInterceptor;
export type Dispatch = Dispatcher['dispatch'];
export type DispatchOptions = Dispatcher.DispatchOptions & Record<symbol, unknown>;
export type Handler = Dispatcher.DispatchHandler;
export type Controller = Dispatcher.DispatchController;

/** One layer of the stack. In a list, the first entry is the outermost. */
export interface Layer {
  /** `deadline`, `retry`, `circuit`, `balance`, `dns`, or your own. */
  readonly role: 'deadline' | 'retry' | 'circuit' | 'balance' | 'dns' | (string & {});
  /** One line: what it does. */
  readonly description: string;
  readonly interceptor: Interceptor;
}
