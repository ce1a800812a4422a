import { readFileSync } from 'node:fs';

/**
 * Reads the "Defaults" table of a package README: rows shaped
 * `| \`optionName\` | 5_000 | ms | why |`. Returns option → value text with
 * `_` and spaces removed, so `5_000` and `5000` compare equal. A nested
 * option's fields have a row each: `reconnectBackoff.baseDelayMs`.
 */
export function readmeDefaults(readmeUrl: URL): Map<string, string> {
  const text = readFileSync(readmeUrl, 'utf8');
  const section = text.split(/^## Defaults\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([A-Za-z]+(?:\.[A-Za-z]+)*)`\s*\|\s*([^|]+?)\s*\|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.replace(/[_\s`]/g, ''));
  }
  return rows;
}

/** Formats a default the way the README writes it (numbers without separators). */
export function formatDefault(value: unknown): string {
  if (typeof value === 'object' && value !== null) return 'monotonicClock';
  // The table reader drops `_` (digit separators), so a string default like `breakwater_ack_dedup` compares without them too.
  return String(value).replaceAll('_', '');
}

/**
 * Defaults as README rows: a nested options object (a backoff) becomes one
 * entry per field, `reconnectBackoff.baseDelayMs`; a clock stays one entry.
 */
export function flattenDefaults(defaults: object): Map<string, unknown> {
  const rows = new Map<string, unknown>();
  for (const [key, value] of Object.entries(defaults)) {
    const nested = typeof value === 'object' && value !== null && typeof (value as { now?: unknown }).now !== 'function';
    if (nested) for (const [field, v] of Object.entries(value)) rows.set(`${key}.${field}`, v);
    else rows.set(key, value);
  }
  return rows;
}
