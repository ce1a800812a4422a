/** Where a command writes, and whether it may use color. Injected so tests capture output. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

/**
 * Color only for a terminal, never when NO_COLOR is set (no-color.org) or
 * TERM=dumb; FORCE_COLOR=1 forces it for CI logs that render ANSI.
 */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function processIo(): Io {
  // Bound now: while --json routes process.stdout to stderr (see routeStdoutToStderr), the document still goes to stdout.
  const write = process.stdout.write.bind(process.stdout);
  return {
    out: (text) => write(text),
    err: (text) => process.stderr.write(text),
    color: colorEnabled(process.stdout),
  };
}

/**
 * Sends whatever else writes to process.stdout (console.log in a user's
 * `--config` module, at import, in its function or in an `http.layers`
 * function run by every row) to stderr, so stdout holds the JSON document
 * alone. Returns the function that restores stdout. An {@link Io} from
 * {@link processIo} keeps writing to the real stdout.
 */
export function routeStdoutToStderr(): () => void {
  const stdout = process.stdout;
  const own = Object.hasOwn(stdout, 'write');
  const previous = stdout.write;
  stdout.write = ((...args: Parameters<typeof process.stderr.write>) => process.stderr.write(...args)) as typeof stdout.write;
  return () => {
    if (own) stdout.write = previous;
    else delete (stdout as { write?: unknown }).write;
  };
}

const CODES = { red: 31, yellow: 33, green: 32, cyan: 36, dim: 2, bold: 1 } as const;
export type Style = keyof typeof CODES;

export function paint(io: Pick<Io, 'color'>, style: Style, text: string): string {
  return io.color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text;
}

export function writeJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}
