import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNetnsResources } from '../../packages/chaos/src/netns/index.js';
import { HTML_COLORS } from '../../packages/cli/src/scorecard/html.js';
import { SCENARIOS } from '../../packages/cli/src/scorecard/scenarios.js';
import type { ScorecardRow } from '../../packages/scorecard/src/types.js';
import { describeNetns, requireNetns } from '../support/netns.js';

/**
 * `breakwater scorecard` end to end, the way a user runs it: the built bin
 * (dist/, built here first), every registered scenario as root, then the
 * HTML report opened in headless Chromium and its screenshot decoded to
 * check that the table and the charts really render.
 */

const repo = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(repo, 'packages/cli/dist/bin.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bw-scorecard-e2e-'));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const FIVE_MINUTES = 5 * 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  pid: number | undefined;
  ms: number;
}

function run(file: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: repo, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr, pid: child.pid, ms: performance.now() - started }),
    );
  });
}

let fullReportHtml: string | undefined;

beforeAll(async () => {
  // The test drives dist/, as `npx breakwater` would: build it from the current sources.
  const tsc = await run(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-b', 'packages/cli'], 240_000);
  expect(tsc.code, `tsc -b packages/cli failed:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
}, 250_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the scorecard has scenarios', () => {
  it('registers at least FM-15 and FM-18', () => {
    expect(SCENARIOS.map((s) => s.id)).toEqual(expect.arrayContaining(['FM-15', 'FM-18']));
  });
});

describeNetns('breakwater scorecard --json as root', () => {
  it('gives a row per registered scenario, every one passing with both numbers, in under 5 minutes', { timeout: FIVE_MINUTES + 60_000 }, async () => {
    const html = path.join(tmp, 'full.html');
    const r = await run(process.execPath, [bin, 'scorecard', '--json', '--html', html], FIVE_MINUTES + 30_000, { BREAKWATER_REQUIRE_NETNS: '1' });
    const report = JSON.parse(r.stdout) as { rows: ScorecardRow[]; summary: { durationMs: number } };
    const failing = report.rows
      .filter((row) => row.verdict !== 'pass')
      .map((row) => `${row.id} ${row.verdict}: ${row.reason ?? JSON.stringify([row.naive, row.breakwater])}`);
    expect(failing, r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.rows.map((row) => row.id)).toEqual(SCENARIOS.map((s) => s.id));
    expect(report.rows.length).toBeGreaterThan(0);
    for (const row of report.rows) {
      expect(row.naive, `${row.id} naive`).toMatchObject({ ok: true, value: expect.any(Number), text: expect.any(String) });
      expect(row.breakwater, `${row.id} Breakwater`).toMatchObject({ ok: true, value: expect.any(Number), text: expect.any(String) });
      // A row with a healthy twin carries its numbers, and the twin passed.
      if (row.twinExpectation !== undefined) expect(row.twin, `${row.id} healthy twin`).toMatchObject({ ok: true, value: expect.any(Number) });
    }
    const twins = report.rows.filter((row) => row.twin !== undefined).map((row) => row.id);
    console.log(`[scorecard] healthy twins: ${twins.join(', ') || 'none'}`);
    expect(r.ms).toBeLessThan(FIVE_MINUTES);
    // The bin's own namespaces are not this worker's: check that it left none.
    const leftovers = (await listNetnsResources()).filter((res) => res.ownerPid === r.pid);
    expect(leftovers.map((res) => `${res.kind} ${res.name}`)).toEqual([]);
    console.log(
      `[scorecard] ${report.rows.length} rows, all pass, ${(r.ms / 1000).toFixed(1)} s wall (${(report.summary.durationMs / 1000).toFixed(1)} s in scenarios)`,
    );
    fullReportHtml = html;
  });
});

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into RGBA pixels. */
function decodePng(buf: Buffer): { width: number; height: number; rgba: Buffer } {
  expect(buf.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length; ) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[12]], 'bit depth 8, not interlaced').toEqual([8, 0]);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      expect(channels, `color type ${data[9]}`).toBeGreaterThan(0);
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rgba = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const add = [0, a, b, (a + b) >> 1, paeth][filter]!;
      line[i] = (line[i]! + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) rgba[(y * width + x) * 4 + k] = line[x * channels + k]!;
      rgba[(y * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3]! : 255;
    }
    prev = line;
  }
  return { width, height, rgba };
}

function countColor(png: { rgba: Buffer }, hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  let n = 0;
  for (let i = 0; i < png.rgba.length; i += 4) {
    if (Math.abs(png.rgba[i]! - r) <= 3 && Math.abs(png.rgba[i + 1]! - g) <= 3 && Math.abs(png.rgba[i + 2]! - b) <= 3) n++;
  }
  return n;
}

if (CHROMIUM === undefined && !requireNetns) console.log('[skip] scorecard HTML screenshot: no chromium on this host (apt-get install chromium)');

describe('the HTML report in headless Chromium', () => {
  it.runIf(CHROMIUM !== undefined || requireNetns)('renders the table and the charts', { timeout: 180_000 }, async () => {
    expect(CHROMIUM, 'Debian `chromium` is installed').toBeDefined();
    let html = fullReportHtml;
    if (html === undefined) {
      // Not root: the user-space subset makes a report just as real.
      html = path.join(tmp, 'subset.html');
      const ids = SCENARIOS.filter((s) => s.requires.length === 0).map((s) => s.id);
      const r = await run(process.execPath, [bin, 'scorecard', '--only', ids.join(','), '--html', html], 120_000);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const expectedRows = (readFileSync(html, 'utf8').match(/<tr class="row-/g) ?? []).length;
    const passRows = (readFileSync(html, 'utf8').match(/<tr class="row-pass"/g) ?? []).length;
    expect(passRows).toBeGreaterThan(0);
    const chrome = ['--headless=new', '--no-sandbox', '--disable-gpu', `--user-data-dir=${path.join(tmp, 'chromium-profile')}`];
    const url = `file://${html}`;
    const png = path.join(tmp, 'report.png');
    const [dom, shot] = await Promise.all([
      run(CHROMIUM!, [...chrome.map((f) => f.replace('chromium-profile', 'chromium-dom')), '--dump-dom', url], 120_000),
      run(CHROMIUM!, [...chrome, `--screenshot=${png}`, '--window-size=1400,3000', url], 120_000),
    ]);
    // The DOM Chromium built: every row, every verdict cell, a bar chart per measured row.
    expect(dom.code, dom.stderr).toBe(0);
    expect(dom.stdout.match(/<tr class="row-/g) ?? []).toHaveLength(expectedRows);
    expect(dom.stdout.match(/<td class="verdict pass">/g) ?? []).toHaveLength(passRows);
    expect((dom.stdout.match(/<svg class="bars"/g) ?? []).length).toBeGreaterThanOrEqual(passRows);
    expect(shot.code, shot.stderr).toBe(0);

    // The pixels: verdict cells in the pass green, bars in the naive and Breakwater colors.
    const image = decodePng(readFileSync(png));
    expect([image.width, image.height]).toEqual([1400, 3000]);
    const green = countColor(image, HTML_COLORS.pass);
    const naive = countColor(image, HTML_COLORS.naive);
    const breakwater = countColor(image, HTML_COLORS.breakwater);
    console.log(`[scorecard] screenshot: ${green} pass-green, ${naive} naive-orange, ${breakwater} Breakwater-blue pixels for ${passRows} passing rows`);
    // A verdict cell is ≥ 72 × 40 px; a bar is ≥ 2 × 18 px (a zero) and the longest of a pair 250 × 18.
    // Rows are ≤ 250 px tall, so at least 10 are within the 3000 px window.
    const visible = Math.min(passRows, 10);
    expect(green).toBeGreaterThan(visible * 72 * 40);
    expect(naive).toBeGreaterThan(visible * 2 * 18);
    expect(breakwater).toBeGreaterThan(visible * 2 * 18);
    expect(Math.max(naive, breakwater)).toBeGreaterThan(250 * 18);
  });
});
