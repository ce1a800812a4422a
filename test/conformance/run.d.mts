export interface ConformanceTest {
  file: string;
  name: string;
  control?: 'pass' | 'fail' | 'skip' | 'todo';
  breakwater?: 'pass' | 'fail' | 'skip' | 'todo';
  controlError?: string;
  breakwaterError?: string;
}
export interface ConformanceRun {
  tests: ConformanceTest[];
  durationMs: number;
  dispatches: number;
  naive: { file: string; name: string; status: string; error?: string }[];
  stderr: { control: string; breakwater: string };
}
export function vendoredFiles(): string[];
export function compare(): Promise<ConformanceRun>;
export function knownDifferences(): Record<string, string>;
export function perFile(tests: ConformanceTest[]): { file: string; tests: number; control: number; breakwater: number; differ: ConformanceTest[] }[];
export const NAIVE_FILES: string[];
