#!/usr/bin/env node
// Pastes a `breakwater scorecard --json` report into docs/failure-modes.md,
// between <!-- scorecard:start --> and <!-- scorecard:end -->, so the docs
// quote numbers a scorecard run measured, with the host and date it ran on.
//
//   node packages/cli/dist/bin.js scorecard --json > /tmp/scorecard.json
//   node scripts/scorecard-to-docs.mjs /tmp/scorecard.json
import { readFileSync, writeFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node scripts/scorecard-to-docs.mjs <scorecard.json>');
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
if (!Array.isArray(report.rows) || report.summary === undefined || report.host === undefined) {
  console.error(`${file} is not a \`breakwater scorecard --json\` report`);
  process.exit(2);
}
const cell = (text) =>
  String(text ?? '—')
    .replaceAll('|', '\\|')
    .replaceAll('\n', ' ');
const { host, summary } = report;
const lines = [
  `Measured by \`breakwater scorecard\` on ${host.startedAt.slice(0, 10)}: Linux ${host.release}, Node ${host.node}, ${host.cpus} CPUs, ` +
    `${host.uid === 0 ? 'root' : 'not root'}; ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped, ` +
    `${summary.errors} errors in ${(summary.durationMs / 1000).toFixed(0)} s. Counts may be smaller than the test suite's (see notes).`,
  '',
  '| id | failure | naive | Breakwater | bound | healthy twin | verdict |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...report.rows.map(
    (r) =>
      `| ${r.id} | ${cell(r.title)} | ${cell(r.naive?.text ?? r.reason)} | ${cell(r.breakwater?.text)} | ${cell(r.bound)} | ` +
      `${r.twin === undefined ? '—' : cell(`${r.twin.text} (${r.twinExpectation ?? 'healthy'})`)} | ${r.verdict} |`,
  ),
];
const notes = report.rows.flatMap((r) => (r.notes ?? []).map((n) => `- ${r.id}: ${cell(n)}`));
if (notes.length > 0) lines.push('', 'Notes:', '', ...notes);

const docPath = new URL('../docs/failure-modes.md', import.meta.url);
const doc = readFileSync(docPath, 'utf8');
const start = doc.indexOf('<!-- scorecard:start -->');
const end = doc.indexOf('<!-- scorecard:end -->');
if (start === -1 || end < start) {
  console.error('docs/failure-modes.md has no <!-- scorecard:start --> … <!-- scorecard:end --> pair');
  process.exit(1);
}
writeFileSync(docPath, `${doc.slice(0, start)}<!-- scorecard:start -->\n\n${lines.join('\n')}\n\n${doc.slice(end)}`);
console.log(`docs/failure-modes.md: ${report.rows.length} scorecard rows pasted`);
