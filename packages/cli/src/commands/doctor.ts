import { InvalidArgumentError } from 'commander';
import type { DoctorOptions } from '../defaults.js';
import { formatDoctor } from '../doctor/format.js';
import { runDoctor } from '../doctor/runDoctor.js';
import type { Severity } from '../doctor/types.js';
import { writeJson } from '../output.js';
import { type CliCommand, EXIT, number } from './Command.js';

const FLAG_TO_OPTION: Record<string, keyof DoctorOptions> = {
  proc: 'procRoot',
  etc: 'etcRoot',
  connRate: 'connRate',
  rtt: 'rttMs',
  bandwidth: 'bandwidthMbps',
  pathIdleTimeout: 'pathIdleTimeoutMs',
  conntrackWarnRatio: 'conntrackWarnRatio',
  closeWaitWarn: 'closeWaitWarnCount',
  minBacklog: 'minBacklog',
  maxRetransmit: 'maxRetransmitMs',
};

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'Find host TCP settings that turn network faults into hangs, drops or slow paths, with the exact fix',
  arguments: [],
  options: [
    { flags: '--proc <dir>', description: 'procfs root (a fixture tree in tests)' },
    { flags: '--etc <dir>', description: 'where sysctl.conf and sysctl.d/ live' },
    { flags: '--conn-rate <n>', description: 'new connections per second to one destination', parse: number() },
    { flags: '--rtt <ms>', description: 'round-trip time of the longest path, for the bandwidth-delay product', parse: number() },
    { flags: '--bandwidth <mbps>', description: 'bandwidth of that path in Mbit/s', parse: number() },
    { flags: '--path-idle-timeout <ms>', description: 'shortest NAT/LB idle timeout on the path', parse: number('integer') },
    { flags: '--conntrack-warn-ratio <r>', description: 'conntrack count/max that is reported', parse: number() },
    { flags: '--close-wait-warn <n>', description: 'CLOSE_WAIT sockets per process that make a warning', parse: number('integer') },
    { flags: '--min-backlog <n>', description: 'smallest acceptable somaxconn and tcp_max_syn_backlog', parse: number('integer') },
    { flags: '--max-retransmit <ms>', description: 'longest acceptable retransmission give-up time (tcp_retries2)', parse: number('integer') },
    {
      flags: '--fail-on <severity>',
      description: 'exit 1 on findings of this severity or worse: error or warning (default: error)',
      parse: (v) => {
        if (v !== 'error' && v !== 'warning' && v !== 'info') throw new InvalidArgumentError('expected error, warning or info');
        return v;
      },
    },
  ],
  help: `
Exit codes: 0 no finding at --fail-on or worse, 1 there are, 2 usage error, 3 could not run.

Examples:
  $ breakwater doctor
  $ breakwater doctor --conn-rate 800 --rtt 80 --bandwidth 1000 --json
  $ breakwater doctor --proc ./fixture-proc --etc ./fixture-etc`,
  async run(_args, flags, io) {
    const options: DoctorOptions = {};
    for (const [flag, key] of Object.entries(FLAG_TO_OPTION)) {
      if (flags[flag] !== undefined) (options as Record<string, unknown>)[key] = flags[flag];
    }
    const report = await runDoctor(options);
    if (flags.json === true) writeJson(io, report);
    else io.out(formatDoctor(report, io));
    const failOn = (flags.failOn as Severity | undefined) ?? 'error';
    const failing = report.summary.errors + (failOn === 'error' ? 0 : report.summary.warnings) + (failOn === 'info' ? report.summary.infos : 0);
    return failing > 0 ? EXIT.findings : EXIT.ok;
  },
};
