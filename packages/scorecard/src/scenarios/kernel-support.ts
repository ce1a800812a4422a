import { setTimeout as sleep } from 'node:timers/promises';
import type { SocketEvent } from '@breakwater/chaos';
import { createTopology, type Topology, type TopologyOptions } from '@breakwater/chaos';
import type { Measurement, ScenarioContext } from '../types.js';

/** Helpers shared by the kernel scenarios (FM-01, 02, 03, 05, 06, 08). */

/**
 * A topology whose disposal (namespaces, veths, nft tables, children) is
 * registered with the runner before anything else can fail, so an abort at
 * any later step still leaves nothing behind.
 */
export async function scenarioTopology(ctx: ScenarioContext, options?: TopologyOptions): Promise<Topology> {
  ctx.signal.throwIfAborted();
  // The build stops at its next step on abort: nothing is built for a scenario already cancelled.
  const topology = await createTopology({ ...options, signal: ctx.signal });
  ctx.defer(() => topology.dispose());
  ctx.signal.throwIfAborted();
  return topology;
}

/** Waits `ms`, or rejects with the abort reason as soon as the scenario is aborted. */
export function wait(ctx: ScenarioContext, ms: number): Promise<void> {
  return sleep(ms, undefined, { signal: ctx.signal });
}

/** `{ port }` from a server program's ready line, rejecting at once on abort. */
export async function readyPort(ctx: ScenarioContext, ready: Promise<unknown>): Promise<number> {
  const message = (await untilAborted(ctx, ready)) as { port?: unknown };
  if (typeof message.port !== 'number') throw new Error(`server printed ${JSON.stringify(message)} instead of {"port":…}`);
  return message.port;
}

/** `promise`, or its rejection with the abort reason when the scenario is aborted first. */
export function untilAborted<T>(ctx: ScenarioContext, promise: Promise<T>): Promise<T> {
  ctx.signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => ctx.signal.removeEventListener('abort', onAbort));
  });
}

/** The `code` of an error (`BW_ERR_…` or an errno), or its name. */
export function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : String(error);
}

/** Seconds with one decimal, for table cells. */
export const seconds = (ms: number): string => (ms / 1000).toFixed(1);

// A child in a namespace loads @breakwater packages as its parent does: from
// dist/ (the installed CLI) through the resolved file URL; from the workspace
// sources (vitest) through the repository's ts-hooks, which map
// `@breakwater/<pkg>` to its TypeScript sources.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const TS_HOOKS = FROM_SOURCE ? new URL('../../../../test/support/ts-hooks.ts', import.meta.url).href : '';

/**
 * argv for a namespace child that loads `pkg`: `[hooks, specifier]`. The
 * child runs `if (hooks) await import(hooks); await import(specifier)`.
 */
export function childImportArgs(pkg: '@breakwater/pool'): [string, string] {
  return FROM_SOURCE ? [TS_HOOKS, pkg] : ['', import.meta.resolve(pkg)];
}

/** Calls `ctx.progress(text(elapsed seconds))` every second until the scenario's defers run. */
export function progressEvery(ctx: ScenarioContext, text: (elapsedS: number) => string): void {
  const started = performance.now();
  const timer = setInterval(() => ctx.progress(text(Math.round((performance.now() - started) / 1000))), 1_000);
  timer.unref();
  ctx.defer(() => clearInterval(timer));
}

/** The naive side of a "silence for `windowMs`" row: ok when nothing happened. */
export function silence(event: SocketEvent | undefined, windowMs: number): Measurement {
  return {
    value: Number(seconds(event?.atMs ?? windowMs)),
    unit: 's',
    text: event === undefined ? `no error after ${seconds(windowMs)} s` : `${event.type} after ${seconds(event.atMs)} s`,
    ok: event === undefined,
  };
}

/** The Breakwater side of a "fails within `boundMs`" row: ok when the error came in time with one of `codes`. */
export function failedInTime(failure: { atMs: number; error?: Error } | undefined, windowMs: number, boundMs: number, codes: readonly string[]): Measurement {
  const code = failure?.error === undefined ? 'close' : codeOf(failure.error);
  return {
    value: Number(seconds(failure?.atMs ?? windowMs)),
    unit: 's',
    text: failure === undefined ? `no error after ${seconds(windowMs)} s` : `${code} after ${seconds(failure.atMs)} s`,
    ok: failure !== undefined && failure.atMs <= boundMs && codes.includes(code),
  };
}
