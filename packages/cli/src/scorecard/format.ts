// Types only: the scenarios (and what they import) load when `scorecard` runs, not for `doctor` or `probe`.
import type { ScorecardReport, ScorecardRow, Verdict } from '@breakwater/scorecard';
import { paint, type Style } from '../output.js';

const VERDICT_STYLE: Record<Verdict, Style> = { pass: 'green', fail: 'red', error: 'red', skipped: 'dim' };
const WIDTH = { id: 5, title: 40, cell: 36 } as const;

const clip = (text: string, width: number) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);
const pad = (text: string, width: number) => clip(text, width).padEnd(width);

function line(r: ScorecardRow, io: { color: boolean }): string {
  const naive = r.naive === undefined ? '—' : r.naive.text;
  const bw = r.breakwater === undefined ? '—' : r.breakwater.text;
  const naiveCell = r.naive?.ok === false ? paint(io, 'yellow', pad(naive, WIDTH.cell)) : pad(naive, WIDTH.cell);
  const bwCell = r.breakwater?.ok === false ? paint(io, 'red', pad(bw, WIDTH.cell)) : pad(bw, WIDTH.cell);
  const twin = r.twin === undefined ? '—' : r.twin.text;
  const twinCell = r.twin?.ok === false ? paint(io, 'red', pad(twin, WIDTH.cell)) : pad(twin, WIDTH.cell);
  return `${paint(io, 'bold', pad(r.id, WIDTH.id))}  ${pad(r.title, WIDTH.title)}  ${naiveCell}  ${bwCell}  ${twinCell}  ${paint(io, VERDICT_STYLE[r.verdict], r.verdict)}`;
}

/** The most of a row's reason printed to the terminal (table and progress); `--json` and the HTML keep it whole. */
export const REASON_MAX_CHARS = 1_000;

/** `text` cut to {@link REASON_MAX_CHARS}, saying how much was left out and where the rest is. */
export function capReason(text: string): string {
  if (text.length <= REASON_MAX_CHARS) return text;
  return `${text.slice(0, REASON_MAX_CHARS)}… (${(text.length - REASON_MAX_CHARS).toLocaleString('en-US')} more characters: the whole text is in --json)`;
}

/** Why a row did not pass, in one line, capped at {@link REASON_MAX_CHARS}. */
export function explain(r: ScorecardRow): string | undefined {
  if (r.verdict === 'pass') return undefined;
  // The runner gives every row that did not pass its reason; a fail says which checks did not hold (the twin's included).
  return capReason(r.reason ?? 'a check did not hold');
}

/** The table, the reasons for rows that did not pass, and the summary line. */
export function formatScorecard(report: ScorecardReport, io: { color: boolean }, htmlFile?: string): string {
  const header = `${pad('id', WIDTH.id)}  ${pad('failure', WIDTH.title)}  ${pad('naive', WIDTH.cell)}  ${pad('Breakwater', WIDTH.cell)}  ${pad('healthy twin', WIDTH.cell)}  verdict`;
  const out = [paint(io, 'bold', 'breakwater scorecard — naive vs Breakwater, and healthy traffic left alone'), '', paint(io, 'dim', header)];
  for (const r of report.rows) out.push(line(r, io));
  const reasons = report.rows.flatMap((r) => {
    const why = explain(r);
    return why === undefined ? [] : [`${paint(io, VERDICT_STYLE[r.verdict], `${r.id} ${r.verdict}:`)} ${why}`];
  });
  if (reasons.length > 0) out.push('', ...reasons);
  const s = report.summary;
  out.push(
    '',
    `${paint(io, s.passed > 0 ? 'green' : 'dim', `${s.passed} passed`)}, ${paint(io, s.failed > 0 ? 'red' : 'dim', `${s.failed} failed`)}, ` +
      `${s.skipped} skipped, ${paint(io, s.errors > 0 ? 'red' : 'dim', `${s.errors} errors`)} in ${(s.durationMs / 1000).toFixed(1)} s` +
      (htmlFile === undefined ? '' : ` — HTML report: ${htmlFile}`),
  );
  return `${out.join('\n')}\n`;
}
