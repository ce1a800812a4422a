import type { ResolvedDoctorOptions } from '../defaults.js';
import type { ProcReader } from './ProcReader.js';
import type { Finding } from './types.js';

export interface CheckContext {
  proc: ProcReader;
  o: ResolvedDoctorOptions;
  /** True when `procRoot` is this machine's /proc, so running `tc` describes the same host. */
  liveHost: boolean;
}

/**
 * One host check. `run` returns its findings (empty: passed) or undefined
 * when it could not run; the reason is then in `proc.skipped`.
 */
export interface Check {
  id: string;
  run(ctx: CheckContext): Finding[] | undefined | Promise<Finding[] | undefined>;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

export function pow2AtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

export function bytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= KiB) return `${(n / KiB).toFixed(0)} KiB`;
  return `${n} B`;
}

export function seconds(s: number): string {
  if (s >= 3600) return `${(s / 3600).toFixed(1)} h`;
  if (s >= 120) return `${(s / 60).toFixed(1)} min`;
  return `${s.toFixed(s < 10 ? 1 : 0)} s`;
}
