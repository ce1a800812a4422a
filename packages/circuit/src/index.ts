export {
  type Action,
  type CallContext,
  CircuitBreaker,
  type CircuitEvents,
  type CircuitState,
  type CircuitStats,
  type CircuitTicket,
} from './CircuitBreaker.js';
export {
  CIRCUIT_DEFAULTS,
  type CircuitOptions,
  type CircuitPolicyOptions,
  type IsFailure,
  type ResolvedCircuitOptions,
  type ResolvedCircuitPolicyOptions,
  resolveCircuitOptions,
} from './defaults.js';
export { defaultIsFailure, FAILURE_CODES } from './isFailure.js';
export { type CircuitForOptions, CircuitRegistry, type CircuitRegistryOptions, circuit, circuitFor } from './registry.js';
