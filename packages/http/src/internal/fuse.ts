import type { Dispatcher } from 'undici';
import type { Dispatch, DispatchOptions, Handler, Interceptor, Layer } from '../layers/types.js';
import { type FusedPlan, FusedRun } from './FusedRun.js';
import { hookOf, type LayerHook } from './hooks.js';
import type { InFlight } from './inFlight.js';
import { tracing } from './tracing.js';

/** The order the built-in layers must keep to be fused (the default stack's, outermost first). */
const ORDER = ['deadline', 'retry', 'circuit', 'balance', 'dns'] as const;

type Hooks = { [R in LayerHook['role']]?: Extract<LayerHook, { role: R }> };

/**
 * The layer list as one FusedPlan, when it can be run fused: built-in layers only (each with its own
 * interceptor), in the default order, each at most once, deadline and retry among them (circuit,
 * balance and dns may be removed). Anything else (a user's layer, a reordered or replaced one) is
 * composed as undici interceptors: undefined.
 */
export function fusable(layers: readonly Layer[]): Hooks | undefined {
  const hooks: Hooks = {};
  let at = -1;
  for (const layer of layers) {
    const hook = hookOf(layer);
    const i = hook === undefined ? -1 : ORDER.indexOf(hook.role);
    if (hook === undefined || i <= at) return undefined;
    at = i;
    (hooks as Record<string, LayerHook>)[hook.role] = hook;
  }
  return hooks.deadline !== undefined && hooks.retry !== undefined ? hooks : undefined;
}

export interface FuseContext {
  base: Dispatcher;
  fresh: Dispatcher | undefined;
  inFlight: InFlight;
  /** The circuit, balance and dns layers of the list composed over the connection pools. */
  layered: Dispatch;
  /** The whole list composed: requests while a tracer is set go there (its interceptors make the spans). */
  composed: Dispatcher;
  /** A request after close() is refused before anything else. */
  refuse: (opts: Dispatcher.DispatchOptions, handler: Handler) => boolean | undefined;
}

/** The fused dispatch as an interceptor, so the client's dispatcher is composed over its pools as before. */
export function fusedInterceptor(hooks: Hooks, c: FuseContext): Interceptor {
  const { deadline, retry, circuit, balance, dns } = hooks as Required<Pick<Hooks, 'deadline' | 'retry'>> & Hooks;
  const names = balance ?? dns;
  const plan: FusedPlan = {
    deadline,
    retry,
    circuit,
    names: names === undefined ? undefined : { resolver: names.resolver, resolution: names.resolution, balancer: balance?.balancer },
    layered: c.layered,
    base: c.base,
    fresh: c.fresh,
    inFlight: c.inFlight,
  };
  return () => (opts, handler) => {
    if (tracing()) return c.composed.dispatch(opts, handler);
    const refused = c.refuse(opts, handler);
    if (refused !== undefined) return refused;
    return new FusedRun(plan, opts as DispatchOptions, handler).begin();
  };
}
