import { readFileSync } from 'node:fs';
import { isBreakwaterError } from '@breakwater/core';
import { Command, CommanderError } from 'commander';
import { type CliCommand, EXIT } from './commands/Command.js';
import { COMMANDS } from './commands/index.js';
import { type Io, paint, writeJson } from './output.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** commander's own exits that are not usage errors. */
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

function report(err: unknown, json: boolean, io: Io): number {
  const usage = isBreakwaterError(err, 'BW_ERR_INVALID_OPTION');
  const code = usage ? EXIT.usage : EXIT.couldNotRun;
  const body = isBreakwaterError(err) ? err.toJSON() : { name: 'Error', code: 'BW_ERR_INTERNAL', message: (err as Error)?.message ?? String(err) };
  if (json) writeJson(io, { error: body });
  io.err(`${paint(io, 'red', 'breakwater:')} ${String(body.message)}\n`);
  // A usage error's hint says how to fix the command: in the JSON body with --json, on stderr without.
  if (isBreakwaterError(err) && (!usage || !json)) io.err(`${paint(io, 'dim', 'hint:')} ${err.hint}\n`);
  return code;
}

function register(program: Command, spec: CliCommand, io: Io, setExit: (code: number) => void): void {
  const cmd = program.command(spec.name).description(spec.summary);
  for (const a of spec.arguments) cmd.argument(a.syntax, a.description);
  for (const o of spec.options) {
    if (o.parse === undefined) cmd.option(o.flags, o.description);
    else cmd.option(o.flags, o.description, o.parse);
  }
  cmd.option('--json', 'print the result as JSON on stdout');
  if (spec.help !== undefined) cmd.addHelpText('after', spec.help);
  cmd.action(async (...received: unknown[]) => {
    const flags = (received.at(-2) ?? {}) as Record<string, unknown>;
    const args = received.slice(0, spec.arguments.length).map(String);
    try {
      setExit(await spec.run(args, flags, io));
    } catch (err) {
      setExit(report(err, flags.json === true, io));
    }
  });
}

/**
 * Runs `breakwater <command> …` and resolves to the exit code: 0 ok,
 * 1 findings (or a failed scorecard row), 2 usage error, 3 could not run,
 * 130 interrupted. Never calls process.exit.
 *
 * @example
 * process.exitCode = await main(['doctor', '--json'], processIo());
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('breakwater')
    .description('Diagnose the host and the path before blaming the network code, and reproduce each failure mode naive vs Breakwater')
    .version(version)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => write(paint(io, 'red', text)) })
    .showSuggestionAfterError();
  for (const spec of COMMANDS) register(program, spec, io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return CLEAN_EXITS.has(err.code) ? EXIT.ok : EXIT.usage;
    return report(err, argv.includes('--json'), io);
  }
  return exitCode;
}
