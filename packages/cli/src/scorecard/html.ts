import type { Measurement, ScorecardReport, ScorecardRow, Verdict } from '@breakwater/scorecard';

/**
 * The colors the report draws with; the screenshot test looks for these
 * exact pixels to prove the table and the charts rendered.
 */
export const HTML_COLORS = Object.freeze({
  pass: '#1a7f37',
  fail: '#cf222e',
  error: '#9a6700',
  skipped: '#6e7781',
  naive: '#fb8500',
  breakwater: '#0969da',
  twin: '#8250df',
});

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes alike. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const fmt = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));

const BAR_W = 250;
const LABEL_W = 86;

/** Two bars, naive and Breakwater, on one log scale when their units match (values span decades: 20 s vs 0.1 s). */
export function barChart(naive: Measurement, breakwater: Measurement): string {
  const sameUnit = naive.unit === breakwater.unit;
  const max = Math.max(naive.value, breakwater.value, 0);
  const width = (m: Measurement) => {
    if (!sameUnit) return BAR_W;
    if (max <= 0 || m.value <= 0) return 2;
    return Math.max(2, (Math.log10(1 + m.value) / Math.log10(1 + max)) * BAR_W);
  };
  const bar = (y: number, label: string, m: Measurement, color: string) =>
    `<text x="0" y="${y + 13}" class="lbl">${label}</text>` +
    `<rect x="${LABEL_W}" y="${y}" width="${width(m).toFixed(1)}" height="18" fill="${color}"/>` +
    `<text x="${LABEL_W + width(m) + 4}" y="${y + 13}" class="val">${escapeHtml(fmt(m.value))} ${escapeHtml(m.unit)}</text>`;
  const caption = sameUnit
    ? `log scale, ${escapeHtml(naive.unit)}`
    : `units differ (${escapeHtml(naive.unit)} vs ${escapeHtml(breakwater.unit)}): not to scale`;
  return (
    `<svg class="bars" role="img" width="${LABEL_W + BAR_W + 90}" height="62" viewBox="0 0 ${LABEL_W + BAR_W + 90} 62" xmlns="http://www.w3.org/2000/svg">` +
    `<title>naive ${escapeHtml(fmt(naive.value))} ${escapeHtml(naive.unit)}, Breakwater ${escapeHtml(fmt(breakwater.value))} ${escapeHtml(breakwater.unit)}</title>` +
    bar(0, 'naive', naive, HTML_COLORS.naive) +
    bar(22, 'Breakwater', breakwater, HTML_COLORS.breakwater) +
    `<text x="${LABEL_W}" y="58" class="cap">${caption}</text></svg>`
  );
}

/** A small line chart of one measurement's series (≤ 200 points). */
export function lineChart(series: NonNullable<Measurement['series']>, color: string): string {
  const w = 320;
  const h = 54;
  const points = series.points.filter(Number.isFinite).slice(0, 200);
  if (points.length === 0) return '';
  const lo = Math.min(...points);
  const hi = Math.max(...points);
  const x = (i: number) => (points.length === 1 ? w / 2 : 4 + (i / (points.length - 1)) * (w - 8));
  const y = (v: number) => (hi === lo ? h / 2 : 4 + (1 - (v - lo) / (hi - lo)) * (h - 20));
  const path = points.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const dots = points.length <= 24 ? points.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"/>`).join('') : '';
  return (
    `<svg class="series" role="img" width="${w}" height="${h - 8}" viewBox="0 0 ${w} ${h - 8}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${escapeHtml(series.label)}</title>` +
    `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>${dots}</svg>` +
    `<div class="cap">${escapeHtml(series.label)}: ${escapeHtml(fmt(lo))}–${escapeHtml(fmt(hi))} ${escapeHtml(series.unit)}</div>`
  );
}

function cell(m: Measurement | undefined, expectation: string): string {
  if (m === undefined) return '<td class="m">—</td>';
  const mark = m.ok ? '' : ' <span class="miss">(did not hold)</span>';
  return `<td class="m"><strong>${escapeHtml(fmt(m.value))} ${escapeHtml(m.unit)}</strong><br>${escapeHtml(m.text)}${mark}<div class="sub">${escapeHtml(expectation)}</div></td>`;
}

function row(r: ScorecardRow): string {
  const charts =
    r.naive !== undefined && r.breakwater !== undefined
      ? barChart(r.naive, r.breakwater) +
        (r.naive.series ? lineChart(r.naive.series, HTML_COLORS.naive) : '') +
        (r.breakwater.series ? lineChart(r.breakwater.series, HTML_COLORS.breakwater) : '') +
        (r.twin?.series ? lineChart(r.twin.series, HTML_COLORS.twin) : '')
      : '';
  const extra = [...(r.reason === undefined ? [] : [r.reason]), ...(r.notes ?? [])].map((t) => `<div class="note">${escapeHtml(t)}</div>`).join('');
  return (
    `<tr class="row-${r.verdict}" id="${escapeHtml(r.id)}">` +
    `<td class="id">${escapeHtml(r.id)}</td>` +
    `<td class="title">${escapeHtml(r.title)}${extra}</td>` +
    cell(r.naive, `naive must show: ${r.naiveExpectation}`) +
    cell(r.breakwater, `bound: ${r.bound}`) +
    cell(r.twin, `healthy: ${r.twinExpectation ?? '—'}`) +
    `<td class="verdict ${r.verdict}">${escapeHtml(r.verdict)}<div class="dur">${escapeHtml((r.durationMs / 1000).toFixed(1))} s</div></td>` +
    `<td class="chart">${charts}</td></tr>`
  );
}

const VERDICTS: Verdict[] = ['pass', 'fail', 'error', 'skipped'];

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}
.summary,.host{color:#59636e;margin:2px 0}
table{border-collapse:collapse;margin-top:16px;width:100%}
th,td{border-bottom:1px solid #d1d9e0;padding:8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.id{font-weight:600;white-space:nowrap}
td.m{max-width:240px}
.sub,.note,.dur,.cap{color:#59636e;font-size:12px}
div.cap{max-width:320px;margin-bottom:6px}
td.verdict .dur{color:#fff;font-weight:400}
.miss{color:${HTML_COLORS.fail};font-weight:600}
td.verdict{color:#fff;font-weight:700;text-align:center;width:72px}
${VERDICTS.map((v) => `td.verdict.${v}{background:${HTML_COLORS[v]}}`).join('\n')}
.lbl{font-size:12px;fill:#1f2328}.val{font-size:12px;fill:#1f2328}.cap{font-size:11px;fill:#59636e}
svg{display:block;margin-bottom:4px}
`;

/** The whole report: one file, no scripts, no external resources. */
export function renderHtml(report: ScorecardReport): string {
  const s = report.summary;
  const h = report.host;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Breakwater scorecard</title><style>${CSS}</style></head>
<body>
<h1>Breakwater scorecard: naive vs Breakwater, each failure mode reproduced</h1>
<p class="summary">${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.errors} errors in ${escapeHtml((s.durationMs / 1000).toFixed(1))} s</p>
<p class="host">${escapeHtml(h.hostname)} · ${escapeHtml(h.platform)} ${escapeHtml(h.release)} ${escapeHtml(h.arch)} · Node ${escapeHtml(h.node)} · ${escapeHtml(h.cpus)} CPUs · uid ${escapeHtml(h.uid ?? '—')} · network namespaces: ${escapeHtml(h.netns.available ? 'yes' : `no (${h.netns.reason ?? 'unavailable'})`)} · ${escapeHtml(h.startedAt)}</p>
<table class="scorecard">
<thead><tr><th>id</th><th>failure</th><th>naive</th><th>Breakwater</th><th>healthy twin</th><th>verdict</th><th>naive vs Breakwater</th></tr></thead>
<tbody>
${report.rows.map(row).join('\n')}
</tbody></table>
<p class="sub">A row passes when the naive side really shows the failure, Breakwater meets its bound and, where the row has one, the healthy twin (healthy but unusual traffic, same Breakwater options) passes untouched by the defence (docs/failure-modes.md). Bars share a log scale when both sides use the same unit.</p>
</body></html>
`;
}
