import { readFileSync } from 'node:fs';

/**
 * Reads the "Defaults" table of a package README: rows shaped
 * `| \`optionName\` | 5_000 | ms | why |`. Returns option → value text with
 * `_` and spaces removed, so `5_000` and `5000` compare equal.
 */
export function readmeDefaults(readmeUrl: URL): Map<string, string> {
  const text = readFileSync(readmeUrl, 'utf8');
  const section = text.split(/^## Defaults\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([A-Za-z]+)`\s*\|\s*([^|]+?)\s*\|/.exec(line);
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
