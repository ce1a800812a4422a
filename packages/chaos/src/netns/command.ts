import { execFile, execFileSync } from 'node:child_process';
import { BreakwaterError } from '@breakwater/core';

/**
 * Every `ip`/`nft`/`sysctl` call of the harness goes through here, each
 * with a time limit, so a wedged command fails a test instead of hanging it.
 */

/** @defaultValue 10_000 */
export const COMMAND_TIMEOUT_MS = 10_000;

/** Exit handlers run with the event loop gone: keep each step short. */
export const SYNC_COMMAND_TIMEOUT_MS = 5_000;

export interface RunOptions {
  /** @defaultValue {@link COMMAND_TIMEOUT_MS} */
  timeoutMs?: number;
  /** Written to the command's stdin (then closed). */
  input?: string;
}

function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs a command; resolves with stdout, rejects with a BreakwaterError quoting stderr. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const line = commandLine(file, args);
        const timedOut = error.killed === true && error.signal === 'SIGKILL';
        const why = timedOut ? `timed out after ${timeoutMs} ms` : stderr.trim() || error.message;
        reject(
          new BreakwaterError('BW_ERR_INTERNAL', `\`${line}\` failed: ${why}`, {
            cause: error,
            hint: 'A command of the netns harness failed; the message quotes its stderr.',
            details: { command: line, exitCode: typeof error.code === 'number' ? error.code : null, stderr },
          }),
        );
      },
    );
    child.stdin?.on('error', () => {
      // The command exited before reading stdin; its exit status tells the story.
    });
    child.stdin?.end(options.input);
  });
}

/** Synchronous and silent: for exit handlers and sweepers, where failing is worse than trying. */
export function runSync(file: string, args: readonly string[], input?: string): string | undefined {
  try {
    return execFileSync(file, args, {
      timeout: SYNC_COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'ignore'],
      ...(input === undefined ? {} : { input }),
    });
  } catch {
    return undefined;
  }
}
