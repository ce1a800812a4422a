/**
 * A small SVG line chart for bench/report.ts: one line per client over a
 * logarithmic x axis (in flight, origins), a linear y axis from 0, a legend.
 * Self-contained markup (no script, no external font), so GitHub renders it
 * as an image and a diff of the numbers shows in review.
 */
export interface Series {
  name: string;
  points: readonly (readonly [x: number, y: number])[];
}

const COLOURS = ['#c0392b', '#2471a3', '#7d8c8d', '#27ae60', '#8e44ad', '#d68910'];
const W = 640;
const H = 360;
const M = { left: 72, right: 28, top: 40, bottom: 56 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number) =>
  n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k` : `${Number(n.toPrecision(3))}`;

/** A round upper bound for the y axis and its tick step. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: readonly Series[] }): string {
  const xs = [...new Set(o.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const { top, step } = niceScale(Math.max(0, ...ys));
  const lx = (x: number) => Math.log10(Math.max(x, 1e-9));
  const [x0, x1] = [lx(xs[0] ?? 1), lx(xs.at(-1) ?? 10)];
  const px = (x: number) => M.left + (x1 === x0 ? 0.5 : (lx(x) - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - (y / top) * (H - M.top - M.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(o.title)}</text>`,
  ];
  for (let y = 0; y <= top + step / 2; y += step) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(Number(y.toPrecision(6)))}</text>`);
  }
  for (const x of xs) out.push(`<text x="${px(x)}" y="${H - M.bottom + 18}" text-anchor="middle">${x < 10_000 ? x : fmt(x)}</text>`);
  out.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${py(0)}" y2="${py(0)}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${py(0)}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)} (log scale)</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  // The legend sits under the plot, entries side by side (wrapping), so it never covers a line.
  let legendX = M.left;
  let legendY = H + 8;
  o.series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${c}"/>`);
    const width = 34 + s.name.length * 6.5 + 16;
    if (legendX + width > W - M.right && legendX > M.left) {
      legendX = M.left;
      legendY += 18;
    }
    out.push(`<line x1="${legendX}" x2="${legendX + 20}" y1="${legendY}" y2="${legendY}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${legendX + 26}" y="${legendY + 4}">${esc(s.name)}</text>`);
    legendX += width;
  });
  const height = legendY + 14;
  out[0] = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" font-family="sans-serif" font-size="12">`;
  out[2] = `<rect width="${W}" height="${height}" fill="#fff"/>`;
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
