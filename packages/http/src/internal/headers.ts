/** Lower-case header name → value, the shape every Breakwater layer reads and writes. */
export type HeaderRecord = Record<string, string | string[]>;

/**
 * A normalised record is made with this prototype, which carries the brand as a non-enumerable
 * property: invisible to undici (`Object.keys`), to spreads and to equality checks. Cheaper than a
 * WeakSet, whose entries the GC must trace as ephemerons, one per request, and than an own property
 * defined on each record (`Object.defineProperty` is a runtime call, twice per request).
 */
const kNormalized = Symbol('breakwater.http.normalizedHeaders');
const normalizedProto: object = Object.create(Object.prototype, { [kNormalized]: { value: true } });
const normalizedRecord = (): HeaderRecord => Object.create(normalizedProto) as HeaderRecord;
const isNormalized = (headers: object): boolean => (headers as { [kNormalized]?: boolean })[kNormalized] === true;

/**
 * Dispatch options carry headers as a record, a flat `[k, v, k, v]` array, an
 * array of pairs or an iterable (`Headers`, fetch's header list). Layers
 * normalise once; a record already normalised by an outer layer is reused.
 */
export function toRecord(headers: unknown): HeaderRecord {
  if (headers !== null && typeof headers === 'object' && isNormalized(headers)) return headers as HeaderRecord;
  const out = normalizedRecord();
  const add = (name: unknown, value: unknown) => {
    if (value === undefined || value === null) return;
    const key = String(name).toLowerCase();
    const v = Array.isArray(value) ? value.map(String) : String(value);
    const prev = out[key];
    if (prev === undefined) out[key] = v;
    else out[key] = [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
  };
  if (headers === undefined || headers === null) {
    // nothing
  } else if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) for (const pair of headers as unknown[][]) add(pair[0], pair[1]);
    else for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1]);
  } else if (typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<[unknown, unknown]>) add(pair[0], pair[1]);
  } else if (typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) add(k, v);
  }
  return out;
}

/** A normalised copy with `name` set (or removed when `value` is undefined). */
export function withHeader(headers: HeaderRecord, name: string, value: string | undefined): HeaderRecord {
  const copy = Object.assign(normalizedRecord(), headers);
  if (value === undefined) delete copy[name];
  else copy[name] = value;
  return copy;
}

/**
 * `record` (from `toRecord(original)`) with `name` set: in place when toRecord made it just now (nobody
 * else holds it), else a copy, as `withHeader`. Saves one copy of every header per request.
 */
export function setHeader(record: HeaderRecord, original: unknown, name: string, value: string): HeaderRecord {
  if (record === original) return withHeader(record, name, value);
  record[name] = value;
  return record;
}

export function firstValue(value: string | string[] | undefined | Buffer | Buffer[]): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : String(v);
}
