import { ERROR_CODES, type ErrorCode } from './codes.js';

// Symbol.for so that two copies of @breakwater/core (a hoisting accident, a
// bundled dependency) still recognise each other's errors.
const kBreakwaterError = Symbol.for('breakwater.error');

export interface BreakwaterErrorOptions {
  cause?: unknown;
  /** Whether another attempt may succeed. @defaultValue the code's default */
  retryable?: boolean;
  /** The likely failure mode, in words for the engineer on call. @defaultValue the code's hint */
  hint?: string;
  /** Context: peer address, elapsed time, option key… copied onto the error. */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error type Breakwater throws. Match on `code` (stable, see
 * `docs/errors.md`); `retryable` says whether another attempt may help,
 * `hint` names the likely failure mode.
 *
 * @example
 * if (err instanceof BreakwaterError && err.code === 'BW_ERR_CONNECT_TIMEOUT') …
 */
export class BreakwaterError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: BreakwaterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec = ERROR_CODES[code];
    this.code = code;
    this.retryable = options.retryable ?? spec.retryable;
    this.hint = options.hint ?? spec.hint;
    this.details = Object.freeze({ ...options.details });
    Object.defineProperty(this, kBreakwaterError, { value: true });
  }

  override get name(): string {
    return 'BreakwaterError';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kBreakwaterError] === true;
  }

  /** A plain object for logs and `--json` output. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      hint: this.hint,
      ...(Object.keys(this.details).length > 0 ? { details: this.details } : {}),
      ...(this.cause instanceof Error
        ? { cause: { name: this.cause.name, message: this.cause.message, code: (this.cause as NodeJS.ErrnoException).code } }
        : {}),
    };
  }
}

export function isBreakwaterError(value: unknown, code?: ErrorCode): value is BreakwaterError {
  return value instanceof BreakwaterError && (code === undefined || value.code === code);
}
