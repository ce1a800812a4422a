export type Severity = 'info' | 'warning' | 'error';

/** How to fix a finding: run `commands` now, add `persist` lines to `file` so a reboot keeps them. */
export interface Fix {
  commands: string[];
  persist: string[];
  /** Where `persist` lines go; absent when the fix is not a sysctl. */
  file?: string;
  /** What else to do, in words (code changes, tc, reboot). */
  note?: string;
}

export interface Finding {
  /** Stable id, e.g. `tcp-retries2`; scripts match on it. */
  id: string;
  severity: Severity;
  title: string;
  /** Why it matters, citing the failure mode. */
  why: string;
  failureModes: string[];
  /** The values read, by sysctl key or file. */
  current: Record<string, string | number>;
  fix: Fix;
}

/** Something the doctor could not read, and why; the checks that needed it are not reported as passed. */
export interface Skipped {
  what: string;
  reason: string;
}

export interface DoctorReport {
  procRoot: string;
  findings: Finding[];
  /** Ids of checks that ran and found nothing. */
  passed: string[];
  skipped: Skipped[];
  summary: { errors: number; warnings: number; infos: number };
}

export const SYSCTL_FILE = '/etc/sysctl.d/90-breakwater.conf';

/** A fix that sets sysctls: `sysctl -w k=v` now and `k = v` in {@link SYSCTL_FILE}. */
export function sysctlFix(pairs: [key: string, value: string | number][], note?: string): Fix {
  const quote = (v: string | number) => (String(v).includes(' ') || String(v).includes('\t') ? `"${v}"` : String(v));
  return {
    commands: pairs.map(([k, v]) => `sysctl -w ${k}=${quote(v)}`),
    persist: pairs.map(([k, v]) => `${k} = ${v}`),
    file: SYSCTL_FILE,
    ...(note === undefined ? {} : { note }),
  };
}
