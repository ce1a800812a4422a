import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One measured number of a fault scenario, one line of `.reports/faults.jsonl`. */
export interface FaultResult {
  /** `FM-01` … */
  fm: string;
  /** `naive` (Node defaults), `control` (the same setup without the fault or with the obvious fix), later `breakwater`. */
  side: 'naive' | 'control' | 'breakwater';
  metric: string;
  value: number;
  unit: string;
}

const reportsDir = fileURLToPath(new URL('../../.reports/', import.meta.url));
export const FAULTS_REPORT = `${reportsDir}faults.jsonl`;

/**
 * Prints `[FM-01] naive: <message>` and appends the number to
 * `.reports/faults.jsonl` for the scorecard.
 */
export function reportResult(result: FaultResult, message: string): void {
  console.log(`[${result.fm}] ${result.side}: ${message}`);
  mkdirSync(reportsDir, { recursive: true });
  appendFileSync(FAULTS_REPORT, `${JSON.stringify({ ...result, at: new Date().toISOString() })}\n`);
}

/** Seconds with one decimal, for messages. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
