import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channelName } from '@breakwater/core';
import { RETRY_CHANNELS } from '@breakwater/retry';
// Types only: erased at build time, so this entry point loads without @opentelemetry/api installed.
import type { Attributes, Meter, Tracer } from '@opentelemetry/api';
import { setHttpTracer } from './internal/tracing.js';
import { HTTP_CHANNELS } from './telemetry.js';

type Message = Record<string, unknown>;

/** The instrument names this bridge creates: `breakwater.http.*`, and OTel's semconv `http.client.request.duration`. */
export const HTTP_METRICS = Object.freeze({
  requests: 'breakwater.http.requests',
  duration: 'breakwater.http.request.duration',
  retries: 'breakwater.http.retries',
  staleRetried: 'breakwater.http.stale_retries',
  gaveUp: 'breakwater.http.gave_up',
  ejected: 'breakwater.http.ejections',
  servedStale: 'breakwater.http.dns.served_stale',
  // OpenTelemetry HTTP client semantic conventions (stable): the name and attributes dashboards expect.
  semconvDuration: 'http.client.request.duration',
  budgetRefusals: 'breakwater.http.retry_budget.refusals',
  // Per-origin breakers (the circuit layer): attributes server.address, server.port and state.
  circuitTransitions: 'breakwater.http.circuit.transitions',
  circuitRejections: 'breakwater.http.circuit.rejections',
});

/** The span event for each attempt after the first (attribute `http.request.resend_count`). */
export const HTTP_SPAN_EVENTS = Object.freeze({ retry: 'breakwater.http.retry' });

const CIRCUIT_STATES = Object.freeze({ opened: 'open', halfOpened: 'half_open', closed: 'closed' } as const);

/** server.address/server.port of a breaker's key when it is an http(s) origin (the circuit layer's keys); else undefined. */
function circuitServer(key: unknown): Attributes | undefined {
  if (typeof key !== 'string' || !/^https?:\/\//.test(key)) return undefined;
  try {
    const u = new URL(key);
    return { 'server.address': u.hostname.replace(/^\[|\]$/g, ''), 'server.port': Number(u.port) || (u.protocol === 'https:' ? 443 : 80) };
  } catch {
    return undefined;
  }
}

/** The semconv attributes of one `completed` message: method, server address and port, status or error type. */
export function semconvAttributes(m: Record<string, unknown>): Attributes {
  const attrs: Attributes = { 'http.request.method': str(m.method) ?? '_OTHER' };
  try {
    const u = new URL(str(m.origin) ?? '');
    attrs['server.address'] = u.hostname.replace(/^\[|\]$/g, '');
    attrs['server.port'] = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  } catch {}
  if (typeof m.statusCode === 'number') {
    attrs['http.response.status_code'] = m.statusCode;
    if (m.statusCode >= 400) attrs['error.type'] = String(m.statusCode);
  } else attrs['error.type'] = outcome(m);
  return attrs;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** What made the layer retry: the status (`'503'`) or the error's code. */
function retryCause(error: unknown): string {
  const e = error as { status?: unknown; code?: unknown; cause?: { code?: unknown } } | undefined;
  if (typeof e?.status === 'number') return String(e.status);
  return str(e?.code) ?? str(e?.cause?.code) ?? 'error';
}

/** Only the decisions of this package's retry layer: `retry()` publishes on the same channels with `source: 'retry'`. */
const fromHttp = (fn: (m: Message) => void) => (m: unknown) => {
  if ((m as Message).source === 'http') fn(m as Message);
};

function outcome(m: Message): string {
  if (typeof m.statusCode === 'number') return m.statusCode >= 500 ? '5xx' : m.statusCode >= 400 ? '4xx' : 'ok';
  // fetch rejects with TypeError('fetch failed') whose cause is the BreakwaterError.
  const error = m.error as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = error?.code ?? error?.cause?.code;
  return typeof code === 'string' ? code : 'error';
}

/**
 * Records the `breakwater:http:*` diagnostics channels, and the `breakwater:retry:*` decisions of the
 * http retry layer (`source: 'http'`), as OpenTelemetry metrics on `meter`, for every
 * client in the process. Attributes stay low-cardinality: origin, method, outcome, reason, hostname.
 * Returns a function that unsubscribes (the instruments stay, with no further data points).
 * @example
 * import { metrics } from '@opentelemetry/api';
 * import { instrumentHttpMetrics } from '@breakwater/http/otel';
 * const stop = instrumentHttpMetrics(metrics.getMeter('checkout'));
 */
export function instrumentHttpMetrics(meter: Meter): () => void {
  const requests = meter.createCounter(HTTP_METRICS.requests, { description: 'Requests through client.request()/fetch(), by outcome' });
  // Seconds, as OpenTelemetry's http.client.request.duration; every attempt and backoff included.
  const duration = meter.createHistogram(HTTP_METRICS.duration, { description: 'Time to response headers or failure', unit: 's' });
  const retries = meter.createCounter(HTTP_METRICS.retries, { description: 'Retries (after backoff), by reason' });
  const staleRetried = meter.createCounter(HTTP_METRICS.staleRetried, { description: 'Resends after a reset on a reused connection (FM-07)' });
  const gaveUp = meter.createCounter(HTTP_METRICS.gaveUp, { description: 'Requests that stopped retrying, by reason' });
  const ejected = meter.createCounter(HTTP_METRICS.ejected, { description: 'Addresses ejected from balancing' });
  const servedStale = meter.createCounter(HTTP_METRICS.servedStale, { description: 'Expired DNS answers served while the resolver failed' });
  const semconvDuration = meter.createHistogram(HTTP_METRICS.semconvDuration, { description: 'Duration of HTTP client requests.', unit: 's' });
  const budgetRefusals = meter.createCounter(HTTP_METRICS.budgetRefusals, { description: 'Retries refused by the per-origin retry budget (FM-11)' });
  const circuitTransitions = meter.createCounter(HTTP_METRICS.circuitTransitions, { description: 'Circuit breaker state changes per origin, by new state' });
  const circuitRejections = meter.createCounter(HTTP_METRICS.circuitRejections, {
    description: 'Requests failed fast (BW_ERR_CIRCUIT_OPEN) by an origin’s breaker, by its state',
  });
  // breakwater:circuit:* carries every breaker in the process; only those keyed by an http(s) origin are counted.
  const transition = (state: string) => (m: unknown) => {
    const attrs = circuitServer((m as Message).key);
    if (attrs !== undefined) circuitTransitions.add(1, { ...attrs, state });
  };

  const listeners: [string, (m: unknown) => void][] = [
    [
      HTTP_CHANNELS.completed,
      (m) => {
        const msg = m as Message;
        const attrs: Attributes = { origin: str(msg.origin) ?? '', method: str(msg.method) ?? '', outcome: outcome(msg) };
        requests.add(1, attrs);
        if (typeof msg.durationMs === 'number') {
          duration.record(msg.durationMs / 1_000, attrs);
          semconvDuration.record(msg.durationMs / 1_000, semconvAttributes(msg));
        }
      },
    ],
    [RETRY_CHANNELS.retried, fromHttp((m) => retries.add(1, { origin: str(m.upstream) ?? '', reason: retryCause(m.error) }))],
    [HTTP_CHANNELS.staleRetried, (m) => staleRetried.add(1, { origin: str((m as Message).origin) ?? '' })],
    [
      RETRY_CHANNELS.gaveUp,
      fromHttp((m) => {
        const attrs = { origin: str(m.upstream) ?? '', reason: str(m.reason) ?? '' };
        gaveUp.add(1, attrs);
        if (attrs.reason === 'budget') budgetRefusals.add(1, { origin: attrs.origin });
      }),
    ],
    [HTTP_CHANNELS.ejected, (m) => ejected.add(1, { hostname: str((m as Message).hostname) ?? '' })],
    [HTTP_CHANNELS.servedStale, (m) => servedStale.add(1, { hostname: str((m as Message).hostname) ?? '' })],
    ...Object.entries(CIRCUIT_STATES).map(([event, state]): [string, (m: unknown) => void] => [channelName('circuit', event), transition(state)]),
    [
      channelName('circuit', 'rejected'),
      (m) => {
        const attrs = circuitServer((m as Message).key);
        if (attrs !== undefined) circuitRejections.add(1, { ...attrs, state: (m as Message).state === 'halfOpen' ? 'half_open' : 'open' });
      },
    ],
  ];
  for (const [name, fn] of listeners) subscribe(name, fn);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const [name, fn] of listeners) unsubscribe(name, fn);
  };
}

/**
 * Traces every `createClient()` request in the process with `tracer`: one CLIENT span per logical request
 * (named after the method; `http.request.method`, `url.full`, `server.address`, `server.port`,
 * `http.response.status_code`, `error.type`, `http.request.resend_count`), each retry a
 * `breakwater.http.retry` event on it. The span's parent is the active context. Without it (the
 * default) no span, context or closure is made per request. Returns a function that stops tracing.
 * @example
 * import { trace } from '@opentelemetry/api';
 * import { instrumentHttpTracing } from '@breakwater/http/otel';
 * const stop = instrumentHttpTracing(trace.getTracer('checkout'));
 */
export function instrumentHttpTracing(tracer: Tracer): () => void {
  return setHttpTracer(tracer);
}
