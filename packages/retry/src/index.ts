export { type Backoff, createBackoff } from './backoff/createBackoff.js';
export {
  BACKOFF_DEFAULTS,
  type BackoffOptions,
  type Jitter,
  RETRY_BUDGET_DEFAULTS,
  RETRY_DEFAULTS,
  RETRY_RULES,
  type ResolvedRetryBudgetOptions,
  type ResolvedRetryOptions,
  type ResolvedRetryStrategyOptions,
  type RetryBudgetOptions,
  type RetryOptions,
  type RetryPolicyOptions,
  type RetryStrategyOptions,
  resolveBackoffOptions,
  resolveRetryBudgetOptions,
  resolveRetryOptions,
  resolveRetryStrategyOptions,
} from './defaults.js';
export { isRetryable, NEVER_RETRIED, RETRYABLE_STATUS } from './isRetryable.js';
export { type HeadersLike, isRetryRequest, markRetry, parseRetryAfterMs, RETRY_MARKER_HEADER, type RetryContext, retryContextFrom } from './marker.js';
export { budgetFor, PROCESS_WIDE, RetryBudget, RetryBudgetRegistry, type RetryBudgetStats } from './RetryBudget.js';
export {
  createRetryStrategy,
  GAVE_UP_REASONS,
  type GaveUpMessage,
  type GaveUpReason,
  RETRY_CHANNELS,
  type RetriedMessage,
  type RetryDecision,
  type RetryDecisionInput,
  type RetryStrategy,
} from './RetryStrategy.js';
export { type AttemptContext, type RetryResult, retry, retryWithStats } from './retry.js';
