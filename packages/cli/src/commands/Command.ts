import { InvalidArgumentError } from 'commander';
import type { Io } from '../output.js';

/** Exit codes, the same for every command. */
export const EXIT = Object.freeze({
  ok: 0,
  /** doctor: findings at or above `--fail-on`; probe: an address failed or stalled; scorecard: a row failed or errored. */
  findings: 1,
  usage: 2,
  /** The command could not run at all: no procfs, DNS failure, no scorecard scenario runnable here, an unexpected error. */
  couldNotRun: 3,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it) after cleaning up. */
  interrupted: 130,
  /** Stopped by SIGTERM (CI cancelling the job, `kill`) after cleaning up: 128 + 15. */
  terminated: 143,
});

export interface CliOption {
  /** commander flag syntax, e.g. `--conn-rate <n>` */
  flags: string;
  description: string;
  /** Turns the text into the value; throw InvalidArgumentError (see {@link number}) for a usage error. */
  parse?: (value: string) => unknown;
}

/**
 * One `breakwater <name>` subcommand. The CLI is built from
 * {@link COMMANDS}: adding a command is one file
 * and one entry there. Every command gets `--json` added for it.
 */
export interface CliCommand {
  name: string;
  summary: string;
  /** commander syntax (`<target>`) and description. */
  arguments: { syntax: string; description: string }[];
  options: CliOption[];
  /** Longer help: examples, exit codes. */
  help?: string;
  /** Runs with parsed positionals and options (camelCased, `json` included); returns the exit code. */
  run(args: string[], options: Record<string, unknown>, io: Io): Promise<number>;
}

/** A numeric option parser that reports the flag's legal form. */
export function number(kind: 'integer' | 'number' = 'number'): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected ${kind === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}
