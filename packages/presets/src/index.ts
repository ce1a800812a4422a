export {
  clientIdleCeilingMs,
  ENV_NAMES,
  type EnvName,
  NODE_SERVER_DEFAULTS,
  PRESET_DEFAULTS,
  type PresetCircuit,
  type PresetConfig,
  type PresetHttp,
  type PresetLoadBalancer,
  type PresetOverrides,
  type PresetPool,
  type PresetRetry,
  type PresetSelection,
  type PresetServer,
  type PresetSocket,
  presetAttemptTimeoutMs,
  presetDeadlineMs,
  worstBackoffMs,
} from './defaults.js';
export { ENVIRONMENTS, type EnvironmentSpec } from './environments.js';
export { type HardenedServer, hardenServer } from './hardenServer.js';
export { INFRA_NAMES, INFRA_PRESETS, type InfraName, type LoadBalancerSpec } from './infra.js';
export { resolvePreset } from './resolvePreset.js';
export { PATH_RULES, type PathRule, validatePath } from './validatePath.js';
