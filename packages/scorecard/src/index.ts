export {
  DEFAULT_SCORECARD_CONFIG,
  loadConfigSource,
  type ResolvedScorecardConfig,
  resolveScorecardConfig,
  type ScorecardConfig,
  type ScorecardConfigSource,
} from './config.js';
export {
  type ResolvedScorecardOptions,
  resolveScorecardOptions,
  SCORECARD_DEFAULTS,
  type ScorecardOptions,
} from './defaults.js';
export type { HostSupport } from './requirements.js';
export {
  type RunnerEvent,
  type RunScorecardOptions,
  runScorecard,
  type ScorecardHost,
  type ScorecardReport,
  type ScorecardSummary,
} from './runner.js';
export { CONTRACT_SCENARIOS } from './scenarios/contracts.js';
export { fm18, type HostDoctor } from './scenarios/fm-18.js';
export { hostScenarios } from './scenarios/host.js';
export { type CreateScenariosOptions, createScenarios } from './scenarios/index.js';
export { KERNEL_SCENARIOS } from './scenarios/kernel.js';
export { RESILIENCE_SCENARIOS } from './scenarios/resilience.js';
export { TRANSPORT_SCENARIOS } from './scenarios/transport.js';
export { freePort, type Haproxy, haproxyBinary, startHaproxy } from './scenarios/transport-support.js';
export type {
  Measurement,
  Requirement,
  Scenario,
  ScenarioContext,
  ScenarioResult,
  ScorecardRow,
  Unit,
  Verdict,
} from './types.js';
export { failureReason, verdictOf } from './verdict.js';
