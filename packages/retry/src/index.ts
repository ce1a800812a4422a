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
  type RetryBudgetOptions,
  type RetryOptions,
  type RetryPolicyOptions,
  resolveBackoffOptions,
  resolveRetryBudgetOptions,
  resolveRetryOptions,
} from './defaults.js';
export { isRetryable, NEVER_RETRIED } from './isRetryable.js';
export { type HeadersLike, isRetryRequest, markRetry, parseRetryAfterMs, RETRY_MARKER_HEADER, type RetryContext, retryContextFrom } from './marker.js';
export { budgetFor, PROCESS_WIDE, RetryBudget, RetryBudgetRegistry, type RetryBudgetStats } from './RetryBudget.js';
export { type AttemptContext, type GaveUpReason, type RetryResult, retry, retryWithStats } from './retry.js';
