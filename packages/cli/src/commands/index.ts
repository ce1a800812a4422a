import type { CliCommand } from './Command.js';
import { doctorCommand } from './doctor.js';
import { probeCommand } from './probe.js';
import { scorecardCommand } from './scorecard.js';

/**
 * Every `breakwater` subcommand, in help order. The extension point: a new
 * command is a {@link CliCommand} added here.
 */
export const COMMANDS: readonly CliCommand[] = [doctorCommand, scorecardCommand, probeCommand];
