// The scorecard's contract and runner live in @breakwater/scorecard; re-exported for existing users.
export {
  type HostSupport,
  type Measurement,
  type Requirement,
  type ResolvedScorecardOptions,
  type RunnerEvent,
  type RunScorecardOptions,
  resolveScorecardOptions,
  runScorecard,
  SCORECARD_DEFAULTS,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  type ScorecardHost,
  type ScorecardOptions,
  type ScorecardReport,
  type ScorecardRow,
  type ScorecardSummary,
  type Unit,
  type Verdict,
} from '@breakwater/scorecard';
// Moved to @breakwater/socket (the stall watchdog reads it too); re-exported for existing users.
export { decodeTcpInfo, TCP_INFO_OFFSETS, type TcpInfo } from '@breakwater/socket';
export { type CliCommand, type CliOption, EXIT } from './commands/Command.js';
export { COMMANDS } from './commands/index.js';
export {
  DOCTOR_DEFAULTS,
  type DoctorOptions,
  PROBE_DEFAULTS,
  type ProbeOptions,
  type ResolvedDoctorOptions,
  type ResolvedProbeOptions,
  resolveDoctorOptions,
  resolveProbeOptions,
} from './defaults.js';
export { formatDoctor } from './doctor/format.js';
export { DOCTOR_CHECKS, runDoctor } from './doctor/runDoctor.js';
export type { DoctorReport, Finding, Fix, Severity, Skipped } from './doctor/types.js';
export { main } from './main.js';
export { colorEnabled, type Io } from './output.js';
export { formatProbe } from './probe/format.js';
export { type AddressResult, type EchoResult, type ProbeReport, parseTarget, probe } from './probe/probe.js';
export { formatScorecard } from './scorecard/format.js';
export { escapeHtml, HTML_COLORS, renderHtml } from './scorecard/html.js';
export { CLI_DOCTOR, SCENARIOS } from './scorecard/scenarios.js';
