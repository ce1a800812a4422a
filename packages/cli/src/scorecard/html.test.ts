import { failureReason, type Measurement, type ScorecardReport, type ScorecardRow } from '@breakwater/scorecard';
import { describe, expect, it } from 'vitest';
import { formatScorecard } from './format.js';
import { barChart, escapeHtml, HTML_COLORS, lineChart, renderHtml } from './html.js';

const EVIL = `<script>alert("x")</script> & 'quotes'`;
const m = (value: number, unit: Measurement['unit'], ok = true, extra: Partial<Measurement> = {}): Measurement => ({
  value,
  unit,
  text: `${value} ${unit}`,
  ok,
  ...extra,
});

/** A fail row with the reason the runner gives it. */
const failed = (row: Omit<ScorecardRow, 'reason'>): ScorecardRow => ({ ...row, reason: failureReason(row) ?? '' });

const report = (): ScorecardReport => ({
  rows: [
    {
      id: 'FM-01',
      title: `Zombie ${EVIL}`,
      bound: 'error ≤ 12 s',
      naiveExpectation: 'no error in the window',
      verdict: 'pass',
      naive: m(20, 's', true, { text: `no error after 20 s ${EVIL}`, series: { label: EVIL, unit: 'ms', points: [1, 5, 3] } }),
      breakwater: m(11.1, 's'),
      twinExpectation: `a peer idle 30 s but alive: no error ${EVIL}`,
      twin: m(0, 'errors', true, { text: 'no error after 30 s idle', series: { label: 'twin probes answered', unit: 'count', points: [1, 2] } }),
      notes: [EVIL],
      durationMs: 21_000,
    },
    {
      id: 'FM-07',
      title: 'Stale pooled connection',
      bound: 'b',
      naiveExpectation: 'n',
      verdict: 'skipped',
      reason: `needs \`haproxy\` on PATH ${EVIL}`,
      durationMs: 0,
    },
    failed({
      id: 'FM-09',
      title: 'Frozen server',
      bound: 'b',
      naiveExpectation: 'n',
      verdict: 'fail',
      naive: m(1, 'errors', false),
      breakwater: m(0, '%'),
      twinExpectation: 'a slow handler: no failover',
      twin: m(2, 'errors', false, { text: '2 failovers on a healthy server' }),
      durationMs: 5,
    }),
  ],
  summary: { passed: 1, failed: 1, skipped: 1, errors: 0, durationMs: 21_500 },
  host: {
    hostname: `h${EVIL}`,
    platform: 'linux',
    release: '6.1',
    arch: 'x64',
    node: 'v24.0.0',
    uid: 0,
    cpus: 2,
    netns: { available: false, reason: EVIL },
    startedAt: 'now',
  },
});

describe('scorecard HTML', () => {
  it('escapes every string it is given', () => {
    expect(escapeHtml(EVIL)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;');
    const html = renderHtml(report());
    expect(html).not.toContain('<script');
    expect(html).not.toContain("'quotes'");
    // The evil text appears only escaped: title, note, naive text, series label, reason, host, netns reason, twin expectation.
    expect(html.split('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;').length - 1).toBeGreaterThanOrEqual(8);
  });

  it('is self-contained: no scripts, no external resources', () => {
    const html = renderHtml(report());
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
    // Two bar charts and two series (naive, twin): only the SVG namespace.
    expect(html.match(/https?:\/\/[^"]*/g)).toEqual(Array(4).fill('http://www.w3.org/2000/svg'));
  });

  it('draws the table with verdict colors and, per measured row, the bars and series', () => {
    const html = renderHtml(report());
    expect(html.match(/<tr class="row-/g)).toHaveLength(3);
    expect(html).toContain(`td.verdict.pass{background:${HTML_COLORS.pass}}`);
    expect(html).toContain('<td class="verdict skipped">skipped');
    expect(html.match(/<svg class="bars"/g)).toHaveLength(2); // not for the skipped row
    expect(html.match(/<svg class="series"/g)).toHaveLength(2); // the naive series and the twin's
    expect(html).toContain(`stroke="${HTML_COLORS.twin}"`);
  });

  it('shows the healthy twin in its own column, with what it must show, and marks a hurt one', () => {
    const html = renderHtml(report());
    expect(html).toContain('<th>Breakwater</th><th>healthy twin</th><th>verdict</th>');
    expect(html).toContain('no error after 30 s idle<div class="sub">healthy: a peer idle 30 s but alive: no error &lt;script&gt;');
    expect(html).toContain(
      '2 failovers on a healthy server <span class="miss">(did not hold)</span><div class="sub">healthy: a slow handler: no failover</div>',
    );
    // The skipped row has no twin: a dash, like its other cells.
    expect(html.match(/<td class="m">—<\/td>/g)).toHaveLength(3);
  });

  it('puts both bars on one log scale when units match, and says so when they do not', () => {
    const widths = (svg: string) => [...svg.matchAll(/<rect [^>]*width="([\d.]+)"/g)].map((x) => Number(x[1]));
    // 1000 vs 10 on a log scale: the small bar is a third as long, not a hundredth.
    const [naive, bw] = widths(barChart(m(1000, 'ms'), m(10, 'ms')));
    expect(naive).toBe(250);
    expect(bw! / naive!).toBeCloseTo(Math.log10(11) / Math.log10(1001), 2);
    expect(widths(barChart(m(0, 'findings'), m(18, 'findings')))).toEqual([2, 250]);
    expect(barChart(m(1, 'errors'), m(0, '%'))).toContain('units differ (errors vs %): not to scale');
    expect(lineChart({ label: 'x', unit: 'ms', points: [] }, '#000')).toBe('');
    expect(lineChart({ label: 'x', unit: 'ms', points: [4, 4] }, '#000')).toContain('<polyline');
  });
});

describe('scorecard table', () => {
  it('prints a row per scenario, why rows did not pass, and the summary', () => {
    const text = formatScorecard(report(), { color: false }, '/tmp/r.html');
    const lines = text.split('\n');
    expect(lines[2]).toMatch(/^id\s+failure\s+naive\s+Breakwater\s+healthy twin\s+verdict$/);
    expect(lines[3]).toMatch(/^FM-01 {2}Zombie .*…\s+no error after 20 s .*…\s+11\.1 s\s+no error after 30 s idle\s+pass$/);
    expect(lines[4]).toMatch(/^FM-07 {2}Stale pooled connection\s+—\s+—\s+—\s+skipped$/);
    expect(text).toContain('FM-07 skipped: needs `haproxy` on PATH');
    // The runner's reason: which checks did not hold.
    expect(text).toContain(
      'FM-09 fail: the naive side did not show the failure (expected: n); the defence fired on healthy traffic (healthy twin: a slow handler: no failover; got: 2 failovers on a healthy server)',
    );
    expect(text).toContain('1 passed, 1 failed, 1 skipped, 0 errors in 21.5 s — HTML report: /tmp/r.html');
    expect(text).not.toContain('\u001b[');
    expect(formatScorecard(report(), { color: true })).toContain('\u001b[32mpass\u001b[0m');
  });
});
