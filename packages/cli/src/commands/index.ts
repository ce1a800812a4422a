import type { CliCommand } from './Command.js';
import { doctorCommand } from './doctor.js';
import { probeCommand } from './probe.js';

/**
 * Every `breakwater` subcommand, in help order. The extension point: a new
 * command (the planned `scorecard`) is a {@link CliCommand} added here.
 */
export const COMMANDS: readonly CliCommand[] = [doctorCommand, probeCommand];
