import { type Io, paint, type Style } from '../output.js';
import type { DoctorReport, Severity } from './types.js';

const MARK: Record<Severity, [string, Style]> = { error: ['✖ error  ', 'red'], warning: ['▲ warning', 'yellow'], info: ['● info   ', 'cyan'] };

/** The human report: findings by severity, each with why, current values and the fix. */
export function formatDoctor(report: DoctorReport, io: Pick<Io, 'color'>): string {
  const lines = [paint(io, 'bold', `breakwater doctor — ${report.procRoot}`), ''];
  const pad = ' '.repeat(12);
  for (const f of report.findings) {
    const [mark, style] = MARK[f.severity];
    lines.push(`${paint(io, style, mark)}  ${paint(io, 'bold', f.title)} ${paint(io, 'dim', `[${f.id}]`)}`);
    lines.push(`${pad}${f.why}`);
    lines.push(
      `${pad}${paint(io, 'dim', 'now:')} ${Object.entries(f.current)
        .map(([k, v]) => `${k} = ${v}`)
        .join('; ')}`,
    );
    for (const c of f.fix.commands) lines.push(`${pad}${paint(io, 'green', 'fix:')} ${c}`);
    if (f.fix.file !== undefined && f.fix.persist.length > 0) {
      lines.push(`${pad}${paint(io, 'green', 'keep:')} add to ${f.fix.file}:`);
      for (const p of f.fix.persist) lines.push(`${pad}      ${p}`);
    }
    if (f.fix.note !== undefined) lines.push(`${pad}${paint(io, 'dim', 'note:')} ${f.fix.note}`);
    lines.push('');
  }
  if (report.passed.length > 0) lines.push(`${paint(io, 'green', '✔ passed')}   ${report.passed.join(', ')}`);
  if (report.skipped.length > 0) {
    lines.push(`${paint(io, 'dim', '○ skipped')}  could not read:`);
    for (const s of report.skipped) lines.push(`${pad}${s.what}: ${s.reason}`);
  }
  const { errors, warnings, infos } = report.summary;
  const total = `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}, ${infos} info`;
  lines.push('', errors > 0 ? paint(io, 'red', total) : warnings > 0 ? paint(io, 'yellow', total) : paint(io, 'green', total));
  return `${lines.join('\n')}\n`;
}
