import { statSync } from 'node:fs';
import path from 'node:path';
import { BreakwaterError } from '@breakwater/core';
import { type DoctorOptions, resolveDoctorOptions } from '../defaults.js';
import type { Check } from './Check.js';
import { ProcReader } from './ProcReader.js';
import { tableChecks } from './tableChecks.js';
import { throughputChecks } from './throughputChecks.js';
import { timeoutChecks } from './timeoutChecks.js';
import type { DoctorReport, Finding, Severity } from './types.js';

/** Every host check, in report order: timeouts and ports, throughput, then live tables. */
export const DOCTOR_CHECKS: readonly Check[] = [...timeoutChecks, ...throughputChecks, ...tableChecks];

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Reads procfs (as any user; what it cannot read lands in `skipped`) and
 * reports each host setting that turns a network fault into a hang, a drop
 * or a slow path, with the exact fix.
 *
 * @throws BreakwaterError `BW_ERR_UNSUPPORTED` when `procRoot` is not a directory.
 * @example
 * const report = await runDoctor({ connRate: 500, rttMs: 80, bandwidthMbps: 1000 });
 * for (const f of report.findings) console.log(f.severity, f.title, f.fix.commands);
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const o = resolveDoctorOptions(options);
  const procRoot = path.resolve(o.procRoot);
  if (!isDirectory(path.join(procRoot, 'sys'))) {
    throw new BreakwaterError('BW_ERR_UNSUPPORTED', `${procRoot} is not a procfs tree (no ${path.join(procRoot, 'sys')}); doctor needs Linux or --proc <dir>`, {
      hint: 'procfs is Linux-only; elsewhere, copy a Linux host’s /proc/sys/net and /proc/net into a directory and pass it with --proc.',
      details: { procRoot },
    });
  }
  const proc = new ProcReader(procRoot);
  const ctx = { proc, o: { ...o, procRoot }, liveHost: procRoot === '/proc' && process.platform === 'linux' };
  const findings: Finding[] = [];
  const passed: string[] = [];
  for (const check of DOCTOR_CHECKS) {
    const result = await check.run(ctx);
    if (result === undefined) continue;
    if (result.length === 0) passed.push(check.id);
    findings.push(...result);
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  const count = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return { procRoot, findings, passed, skipped: proc.skipped, summary: { errors: count('error'), warnings: count('warning'), infos: count('info') } };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
