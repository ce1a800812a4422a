export { BreakwaterError, type BreakwaterErrorOptions, isBreakwaterError } from './BreakwaterError.js';
export { type BackoffAliases, backoffRule, foldBackoffAliases } from './backoffOption.js';
export { type Clock, FakeClock, monotonicClock, sleep, type TimerHandle } from './Clock.js';
export { type ClassifyContext, classify } from './classify.js';
export { ERROR_CODES, type ErrorCode, isErrorCode } from './codes.js';
export { type AbortListener, Deadline, type DeadlineLabel, type DeadlineOptions } from './Deadline.js';
export { channel, channelName, publisher } from './diagnostics.js';
export { IdleMap, type IdleMapOptions } from './IdleMap.js';
export { type Closeable, type CloseOptions, closeDeadlineMs } from './lifecycle.js';
export {
  type BackoffShape,
  backoffRules,
  intRule,
  MAX_TIMER_MS,
  msRule,
  numberRule,
  type Rule,
  type Rules,
  resolveBackoffShape,
  resolveTunables,
  validateAtLeast,
  validateClock,
} from './rules.js';
export type { TlsProblem } from './tlsErrors.js';
export {
  describe,
  type NumberRule,
  resolveOptions,
  validateBoolean,
  validateFunction,
  validateNumber,
  validateOneOf,
  validateOptionsObject,
  validatePort,
  validateSignal,
  validateString,
} from './validate.js';
