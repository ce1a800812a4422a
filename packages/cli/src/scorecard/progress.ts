import type { RunnerEvent } from '@breakwater/scorecard';
import { paint } from '../output.js';
import { capReason } from './format.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const MARK = { pass: '✔', fail: '✖', error: '✖', skipped: '○' } as const;

export interface ProgressSink {
  write(text: string): void;
  color: boolean;
  /** A terminal: one live line redrawn in place. Otherwise a line per start and finish (CI logs). */
  tty: boolean;
  /** Terminal width, for clipping the live line. @defaultValue 100 */
  columns?: number;
}

/**
 * The scorecard's progress indicator on stderr. Returns the runner's event
 * listener and `stop()`, which clears the live line.
 */
export function createProgress(sink: ProgressSink, total: number): { onEvent(event: RunnerEvent): void; stop(): void } {
  const running = new Map<string, { startedAt: number; text: string }>();
  let done = 0;
  let frame = 0;
  let drawn = false;
  const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(0)} s`;

  const clear = () => {
    if (drawn) sink.write('\r\u001b[2K');
    drawn = false;
  };
  const draw = () => {
    const active = [...running].map(([id, r]) => `${id}${r.text === '' ? '' : `: ${r.text}`} (${seconds(r.startedAt)})`).join(' · ');
    const text = `${FRAMES[frame++ % FRAMES.length]} ${done}/${total} done${active === '' ? '' : ` · ${active}`}`;
    // A pty without a size (script, some CI runners) reports 0 columns.
    const width = Math.max(20, (sink.columns !== undefined && sink.columns > 0 ? sink.columns : 100) - 1);
    clear();
    sink.write(text.length > width ? `${text.slice(0, width - 1)}…` : text);
    drawn = true;
  };
  const timer = sink.tty ? setInterval(draw, 100) : undefined;
  timer?.unref();

  return {
    onEvent(event) {
      if (event.type === 'started') {
        running.set(event.id, { startedAt: performance.now(), text: '' });
        if (!sink.tty) sink.write(`[${event.id}] started: ${event.title}\n`);
      } else if (event.type === 'progress') {
        const r = running.get(event.id);
        if (r !== undefined) r.text = event.text;
      } else {
        const { row } = event;
        running.delete(row.id);
        done++;
        const style = row.verdict === 'pass' ? 'green' : row.verdict === 'skipped' ? 'dim' : 'red';
        // A fail says which check did not hold (a hurt healthy twin included).
        const detail = row.verdict === 'pass' ? '' : `: ${capReason(row.reason ?? '')}`;
        const text = `${paint(sink, style, `${MARK[row.verdict]} ${row.verdict}`)} [${row.id}] in ${(row.durationMs / 1000).toFixed(1)} s${detail}`;
        if (sink.tty) {
          clear();
          sink.write(`${text}\n`);
          draw();
        } else sink.write(`[${row.id}] ${row.verdict} in ${(row.durationMs / 1000).toFixed(1)} s${detail}\n`);
      }
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      clear();
    },
  };
}
