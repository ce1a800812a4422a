import type { ScorecardRow } from '@breakwater/scorecard';
import { describe, expect, it, vi } from 'vitest';
import { formatScorecard, REASON_MAX_CHARS } from './format.js';
import { createProgress } from './progress.js';

const row = (id: string, verdict: ScorecardRow['verdict'], reason?: string): ScorecardRow => ({
  id,
  title: 't',
  bound: 'b',
  naiveExpectation: 'n',
  verdict,
  durationMs: 1_234,
  ...(reason === undefined ? {} : { reason }),
});

describe('scorecard progress', () => {
  it('without a terminal, writes a line per start and finish and nothing else', () => {
    const lines: string[] = [];
    const p = createProgress({ write: (t) => lines.push(t), color: false, tty: false }, 2);
    p.onEvent({ type: 'started', id: 'FM-01', title: 'Zombie connection' });
    p.onEvent({ type: 'progress', id: 'FM-01', text: 'naive: waiting' });
    p.onEvent({ type: 'finished', row: row('FM-01', 'pass') });
    p.onEvent({ type: 'finished', row: row('FM-07', 'skipped', 'needs `haproxy` on PATH') });
    p.stop();
    expect(lines).toEqual(['[FM-01] started: Zombie connection\n', '[FM-01] pass in 1.2 s\n', '[FM-07] skipped in 1.2 s: needs `haproxy` on PATH\n']);
  });

  it('on a terminal, redraws one live line with what runs, and prints each finish above it', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const out: string[] = [];
      const p = createProgress({ write: (t) => out.push(t), color: false, tty: true, columns: 0 }, 3);
      p.onEvent({ type: 'started', id: 'FM-01', title: 'Zombie' });
      p.onEvent({ type: 'progress', id: 'FM-01', text: 'naive: waiting for an error' });
      vi.advanceTimersByTime(100);
      expect(out.at(-1)).toMatch(/^⠋ 0\/3 done · FM-01: naive: waiting for an error \(\d+ s\)$/);
      p.onEvent({ type: 'finished', row: row('FM-01', 'pass') });
      expect(out.slice(-3)).toEqual(['\r\u001b[2K', '✔ pass [FM-01] in 1.2 s\n', '⠙ 1/3 done']);
      p.stop();
      expect(out.at(-1)).toBe('\r\u001b[2K');
      const count = out.length;
      vi.advanceTimersByTime(1_000);
      expect(out.length).toBe(count);
    } finally {
      vi.useRealTimers();
    }
  });

  it("caps a 100 KB error in the progress line and in the table's reasons; the row keeps it whole (for --json)", () => {
    const huge = `boom ${'x'.repeat(100_000)}`;
    const lines: string[] = [];
    const p = createProgress({ write: (t) => lines.push(t), color: false, tty: false }, 1);
    const errored = row('FM-01', 'error', huge);
    p.onEvent({ type: 'finished', row: errored });
    p.stop();
    const summary = { passed: 0, failed: 0, skipped: 0, errors: 1, durationMs: 1 };
    const table = formatScorecard({ rows: [errored], summary, host: {} } as never, { color: false });
    for (const text of [lines.join(''), table]) {
      expect(text.length).toBeLessThan(REASON_MAX_CHARS + 1_000);
      expect(text).toContain(
        `boom ${'x'.repeat(REASON_MAX_CHARS - 5)}… (${(huge.length - REASON_MAX_CHARS).toLocaleString('en-US')} more characters: the whole text is in --json)`,
      );
    }
    expect(errored.reason).toBe(huge);
  });
});
