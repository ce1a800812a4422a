import type { ProbeOptions } from '../defaults.js';
import { writeJson } from '../output.js';
import { formatProbe } from '../probe/format.js';
import { probe } from '../probe/probe.js';
import { type CliCommand, EXIT, number } from './Command.js';

export const probeCommand: CliCommand = {
  name: 'probe',
  summary: 'Connect to every address of host:port and report handshake time, TCP_INFO and (with --echo-bytes) large-payload black holes',
  arguments: [{ syntax: '<target>', description: 'host:port or [v6]:port' }],
  options: [
    { flags: '--connect-timeout <ms>', description: 'bound on each handshake', parse: number('integer') },
    { flags: '--echo-bytes <n>', description: 'send n bytes to an echo server and expect them back (0: off)', parse: number('integer') },
    { flags: '--echo-timeout <ms>', description: 'time for the echo to complete before it counts as a stall', parse: number('integer') },
  ],
  help: `
Exit codes: 0 every address connected (and echoed), 1 one failed or stalled, 2 usage error, 3 could not run (DNS).

Examples:
  $ breakwater probe db.internal:5432
  $ breakwater probe 198.18.1.2:7 --echo-bytes 200000 --echo-timeout 3000 --json`,
  async run([target], flags, io) {
    const options: ProbeOptions = {};
    if (flags.connectTimeout !== undefined) options.connectTimeoutMs = flags.connectTimeout as number;
    if (flags.echoBytes !== undefined) options.echoBytes = flags.echoBytes as number;
    if (flags.echoTimeout !== undefined) options.echoTimeoutMs = flags.echoTimeout as number;
    const report = await probe(target ?? '', options);
    if (flags.json === true) writeJson(io, report);
    else io.out(formatProbe(report, io));
    return report.addresses.every((a) => a.ok) ? EXIT.ok : EXIT.findings;
  },
};
