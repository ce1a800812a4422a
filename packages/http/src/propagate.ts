import { AsyncLocalStorage } from 'node:async_hooks';
import net from 'node:net';
import { BreakwaterError, Deadline, monotonicClock, publisher } from '@breakwater/core';
import { RETRY_MARKER_HEADER } from '@breakwater/retry';
import { firstValue } from './internal/headers.js';

const publish = publisher('http');

/** Carries the time left to the next tier, which never works longer than its caller waits (FM-11). */
export const DEADLINE_HEADER = 'x-breakwater-deadline-ms';

/**
 * The largest budget an `x-breakwater-deadline-ms` header may grant: a bigger value (a bug, a unit
 * mix-up, `1e12`) is read as this, never as "no deadline".
 */
export const MAX_DEADLINE_HEADER_MS = 300_000;

/** What an `x-breakwater-deadline-ms` value means: a budget in ms (0 = already expired), or nothing usable. */
export function parseDeadlineHeader(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  let best: number | undefined;
  // Repeated headers arrive as an array, or joined with ", " by Node's http server (a list header):
  // every element counts, the smallest wins, as for an array.
  for (const v of (Array.isArray(value) ? value : [value]).flatMap((x) => String(x).split(','))) {
    const text = v.trim();
    // Digits only (a sign allowed): "1e3", "0x10", "12ms" and "" are garbage, not budgets.
    if (!/^[+-]?\d+(\.\d+)?$/.test(text)) {
      publish('deadlineHeaderIgnored', { value: text.slice(0, 64) });
      continue;
    }
    const ms = Math.min(Math.max(0, Math.round(Number(text))), MAX_DEADLINE_HEADER_MS);
    best = best === undefined ? ms : Math.min(best, ms);
  }
  return best;
}

/** What an inbound request hands to the calls made while serving it. */
export interface InboundContext {
  /**
   * Absolute, on the monotonic clock (`performance.now()`): fixed when the request arrived, so every call
   * made for it sends the time left *now*. Undefined when the caller sent no usable budget. No timer.
   */
  readonly expiresAt: number | undefined;
  /** The caller's retry marker, forwarded so only the tier nearest a failure retries (FM-11). */
  readonly retryMarker: string | undefined;
}

/** What the inbound helpers read from a request: Node's `IncomingMessage`, Express's `req`… */
export type InboundRequestLike = { headers: Record<string, string | string[] | undefined> };
const captured = new WeakMap<object, InboundContext>();
const deadlines = new WeakMap<InboundContext, Deadline>();
const storage = new AsyncLocalStorage<InboundContext>();

/**
 * Reads the inbound `x-breakwater-deadline-ms` and retry marker **once**, the first time it is called for
 * `req` (call it as the request arrives, or use {@link inboundDeadline}): later calls return the same
 * absolute deadline. `0` or a negative value is an expired deadline; garbage is ignored (a
 * `breakwater:http:deadlineHeaderIgnored` event); values above {@link MAX_DEADLINE_HEADER_MS} are capped.
 * @example
 * server.on('request', (req, res) => {
 *   const deadline = deadlineFrom(req); // undefined when the caller sent none
 *   if (deadline?.expired) return res.writeHead(504).end();
 * });
 */
export function deadlineFrom(req: InboundRequestLike): Deadline | undefined {
  const ctx = contextOf(req);
  if (ctx.expiresAt === undefined) return undefined;
  let d = deadlines.get(ctx);
  if (d === undefined) {
    d = Deadline.after(Math.max(0, ctx.expiresAt - monotonicClock.now()), { label: 'the inbound request' });
    deadlines.set(ctx, d);
  }
  return d;
}

/** The time left on an inbound context's deadline: Infinity without one, 0 once expired. */
export function remainingOf(ctx: InboundContext): number {
  return ctx.expiresAt === undefined ? Number.POSITIVE_INFINITY : Math.max(0, ctx.expiresAt - monotonicClock.now());
}

function contextOf(req: InboundRequestLike): InboundContext {
  let ctx = captured.get(req);
  if (ctx === undefined) {
    const ms = parseDeadlineHeader(req.headers?.[DEADLINE_HEADER]);
    ctx = {
      expiresAt: ms === undefined ? undefined : monotonicClock.now() + ms,
      retryMarker: firstValue(req.headers?.[RETRY_MARKER_HEADER]),
    };
    captured.set(req, ctx);
  }
  return ctx;
}

/**
 * Runs `fn` with `req`'s deadline and retry marker as the ambient context: every `createClient()` request
 * made inside (across awaits) is bounded by the time left and sends it on, like gRPC's context deadline.
 */
export function runWithInbound<T>(req: InboundRequestLike, fn: () => T): T {
  return storage.run(contextOf(req), fn);
}

/**
 * Connect/Express-style middleware: captures the inbound deadline on arrival and runs the rest of the
 * chain inside it. For a bare `http.Server`, wrap the listener: `http.createServer(inboundDeadline(handler))`.
 * @example
 * app.use(inboundDeadline());
 * app.get('/orders', async (req, res) => res.json(await (await http.request(usersUrl)).body.json()));
 */
export function inboundDeadline(): (req: InboundRequestLike, res: unknown, next: () => void) => void;
export function inboundDeadline<Req extends InboundRequestLike, Res>(handler: (req: Req, res: Res) => void): (req: Req, res: Res) => void;
export function inboundDeadline(handler?: (req: InboundRequestLike, res: unknown) => void) {
  if (handler !== undefined) return (req: InboundRequestLike, res: unknown) => runWithInbound(req, () => handler(req, res));
  return (req: InboundRequestLike, _res: unknown, next: () => void) => runWithInbound(req, next);
}

/** The ambient inbound context ({@link inboundDeadline}, {@link runWithInbound}), if any. */
export function currentInbound(): InboundContext | undefined {
  return storage.getStore();
}

/**
 * The headers a tier forwards from the request it serves to the requests it makes: the retry marker and
 * the time left **now** on the deadline captured when `incoming` first reached {@link deadlineFrom} (so
 * call this, or `deadlineFrom`, as the request arrives). Inside {@link inboundDeadline} you need neither:
 * the client adds both by itself.
 * @example
 * server.on('request', async (req, res) => {
 *   const r = await http.request(usersUrl, { headers: propagationHeaders(req) });
 * });
 */
export function propagationHeaders(incoming: InboundRequestLike): Record<string, string> {
  const out: Record<string, string> = {};
  const ctx = contextOf(incoming);
  if (ctx.retryMarker !== undefined) out[RETRY_MARKER_HEADER] = ctx.retryMarker;
  if (ctx.expiresAt !== undefined) out[DEADLINE_HEADER] = String(Math.floor(remainingOf(ctx)));
  return out;
}

/**
 * Which origins receive the deadline and retry-marker headers. `'internal'` (the default) does what a
 * service mesh does for calls inside it: loopback and private addresses, single-label names (`users`,
 * a Kubernetes service) and names under `.internal`, `.local`, `.localhost`, `.svc`, `.cluster.local`,
 * `.lan`, `.corp`, `.home.arpa` and RFC 6761's `.test`; a public API such as `api.stripe.com` gets nothing. A list names hosts
 * (`'users.example.com'`) or suffixes (`'.example.com'`); a function decides per URL.
 */
export type PropagateOption = 'internal' | boolean | readonly string[] | ((origin: URL) => boolean);

const INTERNAL_SUFFIXES = ['.internal', '.local', '.localhost', '.svc', '.cluster.local', '.lan', '.corp', '.home.arpa', '.test'];

function isInternalAddress(ip: string): boolean {
  if (net.isIPv4(ip)) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    return (
      a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)
    );
  }
  const v = ip.toLowerCase();
  if (v.startsWith('::ffff:')) return isInternalAddress(v.slice(7));
  return v === '::1' || v.startsWith('fc') || v.startsWith('fd') || v.startsWith('fe80:');
}

/** Whether `hostname` counts as internal for `propagate: 'internal'`. */
export function isInternalHost(hostname: string): boolean {
  const h = (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname).toLowerCase().replace(/\.$/, '');
  if (net.isIP(h) !== 0) return isInternalAddress(h);
  return h === 'localhost' || !h.includes('.') || INTERNAL_SUFFIXES.some((s) => h.endsWith(s));
}

/** Validates `propagate` and returns a cached origin → boolean decision. */
export function propagationPolicy(option: unknown = 'internal'): (origin: string) => boolean {
  let decide: (url: URL) => boolean;
  if (option === true || option === false) return () => option;
  if (option === 'internal') decide = (u) => isInternalHost(u.hostname);
  else if (typeof option === 'function') decide = option as (url: URL) => boolean;
  else if (Array.isArray(option) && option.every((p) => typeof p === 'string' && p !== '')) {
    const list = option.map((p: string) => p.toLowerCase());
    decide = (u) => list.some((p) => (p.startsWith('.') ? u.hostname.endsWith(p) : u.hostname === p));
  } else {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      "Expected `propagate` to be 'internal', true, false, an array of host names or '.suffix'es, or (origin: URL) => boolean",
      { details: { key: 'propagate' } },
    );
  }
  // A handful of origins per client; bounded so a client fed endless origins does not grow it.
  const cache = new Map<string, boolean>();
  return (origin) => {
    let v = cache.get(origin);
    if (v === undefined) {
      try {
        v = decide(new URL(origin)) === true;
      } catch {
        v = false;
      }
      if (cache.size >= 1_024) cache.clear();
      cache.set(origin, v);
    }
    return v;
  };
}
