import type { ScorecardRow, Verdict } from './types.js';

type Measured = Pick<ScorecardRow, 'naive' | 'breakwater' | 'twin' | 'naiveExpectation' | 'bound' | 'twinExpectation'>;

/**
 * Why a measured row did not pass, one clause per check that did not hold
 * (naive failure reproduced, Breakwater's bound met, healthy twin untouched);
 * undefined when all held.
 */
export function failureReason(row: Measured): string | undefined {
  const why: string[] = [];
  if (row.naive?.ok === false) why.push(`the naive side did not show the failure (expected: ${row.naiveExpectation})`);
  if (row.breakwater?.ok === false) why.push(`Breakwater missed its bound (${row.bound}): ${row.breakwater.text}`);
  const twin = twinFailure(row);
  if (twin !== undefined) why.push(twin);
  return why.length === 0 ? undefined : why.join('; ');
}

/** The healthy twin's clause of {@link failureReason}: undefined when the twin passed or the row has none. */
export function twinFailure(row: Pick<Measured, 'twin' | 'twinExpectation'>): string | undefined {
  if (row.twin?.ok !== false) return undefined;
  return `the defence fired on healthy traffic (healthy twin: ${row.twinExpectation ?? 'left untouched'}; got: ${row.twin.text})`;
}

/** pass only when the naive side failed, Breakwater met its bound and the healthy twin (when present) passed. */
export function verdictOf(row: Measured): Extract<Verdict, 'pass' | 'fail'> {
  return row.naive?.ok === true && row.breakwater?.ok === true && row.twin?.ok !== false ? 'pass' : 'fail';
}
