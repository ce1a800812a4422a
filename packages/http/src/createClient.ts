import { CircuitRegistry } from '@breakwater/circuit';
import { BreakwaterError, type Closeable, type CloseOptions, channel, IdleMap } from '@breakwater/core';
import { RetryBudget } from '@breakwater/retry';
import { type Dispatcher, fetch as undiciFetch, request as undiciRequest } from 'undici';
import { hardenedConnectors } from './connector.js';
import { defaultLayers } from './defaultLayers.js';
import { type HttpClientOptions, type ResolvedHttpOptions, resolveHttpOptions } from './defaults.js';
import { closing, refuseClosed, TrackedHandler } from './internal/closing.js';
import { fusable, fusedInterceptor } from './internal/fuse.js';
import { inFlightSet } from './internal/inFlight.js';
import { kFresh } from './internal/symbols.js';
import { attemptSpan, requestSpan } from './internal/tracing.js';
import type { DeadlineRequestOptions } from './layers/deadline.js';
import type { Handler, Interceptor, Layer } from './layers/types.js';
import { OriginPools } from './OriginPools.js';
import { type OriginHandle, type OriginRequestOptions, originHandle } from './originHandle.js';
import { attemptHeadersTimeoutMs } from './presetOptions.js';
import { createProxyDispatcher } from './proxy.js';
import { Resolver } from './Resolver.js';
import { requestTlsOf } from './tls.js';

const completed = channel('http', 'completed');

/** Publishes `breakwater:http:completed` when `call` settles; costs one property read when nobody subscribes. */
function observed<T extends { status?: number; statusCode?: number }>(url: unknown, method: string | undefined, call: () => Promise<T>): Promise<T> {
  if (!completed.hasSubscribers) return call();
  const started = performance.now();
  // A fetch Request from either undici copy (Node's global one or ours): duck-typed, not instanceof.
  const req =
    typeof url === 'object' && url !== null && typeof (url as { url?: unknown }).url === 'string' ? (url as { url: string; method?: string }) : undefined;
  let origin = '';
  try {
    origin = new URL(req?.url ?? String(url)).origin;
  } catch {}
  const m = (method ?? req?.method ?? 'GET').toUpperCase();
  return call().then(
    (res) => {
      completed.publish({ origin, method: m, statusCode: res.statusCode ?? res.status, durationMs: performance.now() - started });
      return res;
    },
    (error: unknown) => {
      completed.publish({ origin, method: m, error, durationMs: performance.now() - started });
      throw error;
    },
  );
}

type UndiciRequestOptions = NonNullable<Parameters<typeof undiciRequest>[1]>;
/** undici's `request` options (without `dispatcher`), plus per-request `deadlineMs`, `headersTimeoutMs`, `bodyTimeoutMs`. */
export type HttpRequestOptions = Omit<UndiciRequestOptions, 'dispatcher'> & DeadlineRequestOptions;

/** undici's `fetch` init (without `dispatcher`), plus per-request `deadlineMs`, `headersTimeoutMs`, `bodyTimeoutMs` (each redirect hop gets them). */
export type HttpFetchInit = Omit<NonNullable<Parameters<typeof undiciFetch>[1]>, 'dispatcher'> & DeadlineRequestOptions;

export interface HttpClient extends Closeable {
  /** Shaped like `undici.request`; errors are BreakwaterErrors with `details.attempts` and `details.retryDelayMs`. */
  request(url: string | URL, options?: HttpRequestOptions): ReturnType<typeof undiciRequest>;
  /**
   * Requests to one origin through the same layers, shaped like undici's `pool.request({ path, method })`: no
   * URL is parsed per request. `origin` is `scheme://host[:port]` only; throws BW_ERR_INVALID_OPTION otherwise.
   */
  origin(origin: string | URL): OriginHandle;
  /** WHATWG fetch, on undici 8's own `fetch` (never Node's global one); network errors are `TypeError` with a BreakwaterError `cause`. */
  fetch(input: Parameters<typeof undiciFetch>[0], init?: HttpFetchInit): ReturnType<typeof undiciFetch>;
  /** The composed dispatcher, for undici's own APIs (`stream`, `pipeline`, `WebSocket`…) from the same undici copy. */
  readonly dispatcher: Dispatcher;
  /** The layers in use, outermost first. */
  readonly layers: readonly Layer[];
  /**
   * Lets requests in flight finish (retry backoffs included), then closes every connection; later requests
   * get BW_ERR_CLOSED. After `deadlineMs` (default: no limit) it destroys what is left, as `destroy()`.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes at once: requests in flight fail, every connection is destroyed. */
  destroy(): Promise<void>;
  /** `close()`, for `await using client = createClient()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export type { CloseOptions };

/**
 * A resilient HTTP client on undici 8: hardened connections, idle timeouts below the load balancer's,
 * and a stack of deadline → retry → circuit → balance → dns. Importing it leaves Node's global `fetch` alone.
 * @example
 * const http = createClient({ deadlineMs: 2_000 });
 * const { statusCode, body } = await http.request('https://users.internal/v1/users/42');
 */
export function createClient(options?: HttpClientOptions): HttpClient {
  const o = resolveHttpOptions(options);
  const resolver = resolverFor(o);
  // Per origin, bounded (maxOrigins) and dropped when idle: an idle budget's window is empty anyway.
  const budgets = new IdleMap<string, RetryBudget>({ maxEntries: o.maxOrigins, idleMs: o.originIdleMs });
  const budgetFor = (origin: string) => budgets.get(origin) ?? budgets.set(origin, new RetryBudget(o.retryBudget));
  const circuits = new CircuitRegistry({ maxCircuits: o.maxOrigins, idleMs: o.originIdleMs });
  let base: Dispatcher;
  let fresh: Dispatcher | undefined;
  if (o.dispatcher !== undefined) base = o.dispatcher;
  else {
    const poolOptions = {
      connections: o.connections,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      // A server's Keep-Alive: timeout hint may only shorten our idle time, never lengthen it.
      keepAliveMaxTimeout: o.keepAliveTimeoutMs,
      keepAliveTimeoutThreshold: o.keepAliveTimeoutThresholdMs,
      headersTimeout: attemptHeadersTimeoutMs(o),
      bodyTimeout: o.bodyTimeoutMs,
      allowH2: o.allowH2,
    };
    // One connector factory for every pool: TLS options are checked once, the insecure warning said once.
    const connectorFor = hardenedConnectors({
      connectTimeoutMs: o.connectTimeoutMs,
      allowH2: o.allowH2,
      socket: o.socket,
      ...(o.tls === undefined ? {} : { tls: o.tls }),
      dangerouslySkipTlsVerification: o.dangerouslySkipTlsVerification,
    });
    const proxy = o.proxy;
    // Direct: bounded pools (maxOrigins) whose connections resolve names in the connect step (dns/balance).
    // Through a proxy: undici's proxy agents, the proxy resolving the origin.
    const make = (): Dispatcher =>
      proxy === undefined
        ? new OriginPools({ pool: poolOptions, connectorFor, maxPools: o.maxOrigins })
        : createProxyDispatcher(proxy, {
            agent: { ...poolOptions, connect: connectorFor(undefined) },
            connectTimeoutMs: o.connectTimeoutMs,
            socket: o.socket,
            requestTls: requestTlsOf(o),
          });
    base = make();
    // Stale-socket resends go here: `reset: true` closes each connection after its one request, so a
    // resend can never land on another stale pooled connection.
    fresh = make();
  }
  const defaults = defaultLayers({ options: o, resolver, budgetFor, circuits, ownsConnections: fresh !== undefined, viaProxy: o.proxy !== undefined });
  const layers = editLayers(o.layers, defaults);
  const freshRoute: Interceptor = (dispatch) => (opts, handler) =>
    fresh !== undefined && (opts as unknown as Record<symbol, unknown>)[kFresh] === true
      ? fresh.dispatch({ ...opts, reset: true }, handler)
      : dispatch(opts, handler);
  let destroyed = false;
  async function teardown(now: boolean): Promise<void> {
    if (destroyed) return; // destroyed already: the connection pools are gone, there is nothing left to do.
    destroyed = now;
    await circuits.close();
    // A caller's own dispatcher is the caller's to close.
    if (fresh !== undefined) await Promise.all(now ? [base.destroy(), fresh.destroy()] : [base.close(), fresh.close()]);
  }
  // Requests between dispatch and their end, retry backoffs included: close() waits for them before it
  // closes the Agents (so a retry never finds its Agent closed), and cuts them short when its time is up.
  const inFlight = inFlightSet();
  const life = closing(o.closeTimeoutMs, inFlight, teardown);
  const refuse = (opts: Dispatcher.DispatchOptions, handler: Handler) => (life.closing ? refuseClosed(handler, String(opts.origin ?? '')) : undefined);
  const tracking: Interceptor = (dispatch) => (opts, handler) => {
    const refused = refuse(opts, handler);
    if (refused !== undefined) return refused;
    const tracked = new TrackedHandler(handler, inFlight);
    try {
      return dispatch(opts, tracked);
    } catch (err) {
      tracked.settle();
      throw err;
    }
  };
  // undici's compose makes the *last* interceptor the outermost; our lists put the outermost first.
  // Spans (instrumentHttpTracing()) wrap the whole stack, and see each attempt just above the connection.
  const interceptors = (list: readonly Layer[]) => [...list].reverse().map((l) => l.interceptor);
  const composed = base.compose([freshRoute, attemptSpan, ...interceptors(layers), requestSpan, tracking]);
  // The default list (or built-ins removed from it) runs fused: one object per request, the layers as
  // hooks on it (internal/FusedRun.ts). Any other list is composed, each layer an undici interceptor.
  const hooks = fusable(layers);
  const dispatcher =
    hooks === undefined
      ? composed
      : base.compose([
          fusedInterceptor(hooks, {
            base,
            fresh,
            inFlight,
            refuse,
            composed,
            layered: base.compose([freshRoute, ...interceptors(layers.filter((l) => l.role !== 'deadline' && l.role !== 'retry'))]).dispatch,
          }),
        ]);
  // client.origin(o).request(): the options as undici's Dispatcher.request takes them, origin set.
  const sendTo = (opts: Dispatcher.RequestOptions & OriginRequestOptions) =>
    completed.hasSubscribers ? observed(opts.origin, opts.method, () => dispatcher.request(opts)) : dispatcher.request(opts);
  return {
    // Without a subscriber, no closure for observed() per request; without options, no spread.
    request: (url, options) =>
      completed.hasSubscribers
        ? (observed(url, options?.method, () => undiciRequest(url, { ...options, dispatcher } as UndiciRequestOptions)) as ReturnType<typeof undiciRequest>)
        : undiciRequest(url, (options === undefined ? { dispatcher } : { ...options, dispatcher }) as UndiciRequestOptions),
    origin: (origin) => originHandle(origin, sendTo),
    fetch: (input, init) => observed(input, init?.method, () => undiciFetch(input, { ...init, dispatcher: withRequestOptions(dispatcher, init) })),
    dispatcher,
    layers: Object.freeze([...layers]),
    close: (options?: CloseOptions) => life.close(options),
    destroy: () => life.destroy(),
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

function resolverFor(o: ResolvedHttpOptions): Resolver {
  return new Resolver({
    maxTtlMs: o.dnsMaxTtlMs,
    negativeTtlMs: o.dnsNegativeTtlMs,
    staleMs: o.dnsStaleMs,
    servers: o.dnsServers,
    resolve: o.resolve,
    maxNames: o.maxOrigins,
    idleMs: o.originIdleMs,
  });
}

/** `layers(defaults)`, checked: the stack a client runs. */
function editLayers(edit: ResolvedHttpOptions['layers'], defaults: Layer[]): Layer[] {
  const layers = edit === undefined ? defaults : edit(defaults);
  if (!Array.isArray(layers) || layers.some((l) => typeof l?.role !== 'string' || typeof l.interceptor !== 'function')) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `layers` to return an array of { role, description, interceptor }', {
      details: { key: 'layers' },
    });
  }
  return layers;
}

/**
 * The layers `createClient(options)` would run, outermost first, built without opening or pooling a
 * connection: calls a `layers` edit once, so a config loaded from a file can be checked before use.
 * @throws what createClient() throws for these options, and whatever the `layers` function throws.
 */
export function previewLayers(options?: HttpClientOptions): Layer[] {
  const o = resolveHttpOptions(options);
  const defaults = defaultLayers({
    options: o,
    resolver: resolverFor(o),
    budgetFor: () => new RetryBudget(o.retryBudget),
    circuits: new CircuitRegistry({ maxCircuits: o.maxOrigins, idleMs: o.originIdleMs }),
    ownsConnections: o.dispatcher === undefined,
    viaProxy: o.proxy !== undefined,
  });
  return editLayers(o.layers, defaults);
}

const PER_REQUEST = ['deadlineMs', 'headersTimeoutMs', 'bodyTimeoutMs'] as const;

/**
 * undici's fetch builds its own dispatch options and drops unknown init keys: the per-request
 * `deadlineMs`/`headersTimeoutMs`/`bodyTimeoutMs` reach the deadline layer (which validates them) through a
 * dispatcher that adds them to every dispatch of this fetch, redirects included. Without them, the client's.
 */
function withRequestOptions(dispatcher: Dispatcher, init: HttpFetchInit | undefined): Dispatcher {
  if (init === undefined || init === null) return dispatcher;
  const keys = PER_REQUEST.filter((key) => init[key] !== undefined);
  if (keys.length === 0) return dispatcher;
  const added = Object.fromEntries(keys.map((key) => [key, init[key]]));
  return {
    dispatch: (opts: Dispatcher.DispatchOptions, handler: Handler) => dispatcher.dispatch({ ...opts, ...added }, handler),
    get isMockActive() {
      return (dispatcher as { isMockActive?: boolean }).isMockActive;
    },
  } as unknown as Dispatcher;
}
