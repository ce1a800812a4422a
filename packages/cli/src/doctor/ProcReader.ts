import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { Skipped } from './types.js';

function reasonOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'not present';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (run as root to read it)';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  return (err as Error).message;
}

/**
 * Reads files under a procfs root and records every file it could not read
 * in `skipped`, so the report says what it did not check instead of
 * crashing or passing silently.
 */
export class ProcReader {
  readonly root: string;
  readonly skipped: Skipped[] = [];

  constructor(root: string) {
    this.root = root;
  }

  path(rel: string): string {
    return path.join(this.root, rel);
  }

  skip(what: string, reason: string): undefined {
    if (!this.skipped.some((s) => s.what === what)) this.skipped.push({ what, reason });
    return undefined;
  }

  /** File text, or undefined (recorded in `skipped` unless `absentIsNormal` and it is absent). */
  read(rel: string, { absentIsNormal = false } = {}): string | undefined {
    try {
      return readFileSync(this.path(rel), 'utf8');
    } catch (err) {
      if (absentIsNormal && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return this.skip(this.path(rel), reasonOf(err));
    }
  }

  /** `net.ipv4.tcp_retries2` → the trimmed text of sys/net/ipv4/tcp_retries2. */
  sysctl(key: string, opts: { absentIsNormal?: boolean } = {}): string | undefined {
    const text = this.read(`sys/${key.replaceAll('.', '/')}`, opts);
    return text?.trim().replace(/\s+/g, ' ');
  }

  /** A sysctl of whitespace-separated integers (`tcp_rmem`, `ip_local_port_range`), each checked. */
  sysctlInts(key: string, count: number, opts: { absentIsNormal?: boolean } = {}): number[] | undefined {
    const text = this.sysctl(key, opts);
    if (text === undefined) return undefined;
    const parts = text.split(' ').map(Number);
    if (parts.length !== count || parts.some((n) => !Number.isFinite(n))) return this.skip(key, `unparseable value ${JSON.stringify(text)}`);
    return parts;
  }

  sysctlInt(key: string, opts: { absentIsNormal?: boolean } = {}): number | undefined {
    return this.sysctlInts(key, 1, opts)?.[0];
  }

  /** Directory entries, or undefined on error (not recorded: callers summarise). */
  list(rel: string): string[] | undefined {
    try {
      return readdirSync(this.path(rel));
    } catch {
      return undefined;
    }
  }

  /** readlink, throwing so callers can count EACCES. */
  readlink(rel: string): string {
    return readlinkSync(this.path(rel));
  }
}
