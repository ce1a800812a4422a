/**
 * Request headers as dispatch options carry them: a record, a flat `[k, v, k, v]` array or an iterable of
 * pairs (`Headers`, a `Map`). Layers read a header or add one; they never normalise the rest. Names keep
 * their case and order, values their type, so undici validates exactly what the caller gave (an object
 * value, a malformed iterable and a CRLF are rejected by undici as they would be without Breakwater).
 */

/**
 * Whether undici iterates `headers` rather than reading its keys: an own `Symbol.iterator`, or one from a
 * prototype other than `Object.prototype` (undici's `hasSafeIterator`). A polluted
 * `Object.prototype[Symbol.iterator]` therefore never turns a plain record into an (empty) iterable.
 */
export function isIterableHeaders(headers: object): boolean {
  if (Object.hasOwn(headers, Symbol.iterator)) return true;
  const proto = Object.getPrototypeOf(headers) as object | null;
  return proto !== null && proto !== Object.prototype && typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

const isPair = (entry: unknown): entry is [unknown, unknown] => Array.isArray(entry) && entry.length === 2;

/**
 * An iterable (possibly one-shot: a generator) read once into something every layer can read again:
 * a flat array when every entry is a pair, else an object whose own iterator replays the entries, so
 * undici still rejects them ("headers must be in key-value pair format"). Records and arrays are
 * returned as they are. The outermost layer calls it; reading a one-shot iterable twice would empty it.
 */
export function replayable(headers: unknown): unknown {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers) || !isIterableHeaders(headers)) return headers;
  const entries = [...(headers as Iterable<unknown>)];
  if (!entries.every(isPair)) return { [Symbol.iterator]: () => entries[Symbol.iterator]() };
  const flat: unknown[] = [];
  for (const [k, v] of entries as [unknown, unknown][]) flat.push(k, v);
  return flat;
}

/** The first value of header `name` (lower case) in any shape, without copying; undefined when absent. */
export function getHeader(headers: unknown, name: string): string | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (sameName(headers[i], name)) return firstValue(headers[i + 1]);
    return undefined;
  }
  if (isIterableHeaders(headers)) {
    for (const entry of headers as Iterable<unknown>) if (isPair(entry) && sameName(entry[0], name)) return firstValue(entry[1]);
    return undefined;
  }
  // for…in over own keys: the same keys in the same order as Object.keys(), without an array per call.
  for (const key in headers) if (Object.hasOwn(headers, key) && sameName(key, name)) return firstValue((headers as Record<string, unknown>)[key]);
  return undefined;
}

/**
 * `headers` with `name` set to `value`, replacing any entry of that name (in any case); every other entry
 * as it was. Returns a new value (the caller's is never mutated): a record stays a record, an array or an
 * iterable becomes a flat array. A shape undici would reject (an odd flat array, an iterable entry that
 * is not a pair) is returned unchanged, so undici reports it as it would without Breakwater.
 */
export function withHeader(headers: unknown, name: string, value: string): unknown {
  if (headers === undefined || headers === null) {
    // A store, not `{ [name]: value }`: with names that vary, V8 defines a computed literal key in its runtime.
    const out: Record<string, unknown> = {};
    out[name] = value;
    return out;
  }
  if (typeof headers !== 'object') return headers;
  if (Array.isArray(headers)) {
    if (headers.length % 2 !== 0) return headers;
    const out: unknown[] = [];
    for (let i = 0; i < headers.length; i += 2) if (!sameName(headers[i], name)) out.push(headers[i], headers[i + 1]);
    out.push(name, value);
    return out;
  }
  if (isIterableHeaders(headers)) {
    const out: unknown[] = [];
    for (const entry of headers as Iterable<unknown>) {
      if (!isPair(entry)) return headers;
      if (!sameName(entry[0], name)) out.push(entry[0], entry[1]);
    }
    out.push(name, value);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(headers)) if (!sameName(key, name)) out[key] = (headers as Record<string, unknown>)[key];
  out[name] = value;
  return out;
}

function sameName(key: unknown, lowerName: string): boolean {
  return typeof key === 'string' ? key.length === lowerName.length && key.toLowerCase() === lowerName : false;
}

export function firstValue(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v === null ? undefined : String(v);
}
