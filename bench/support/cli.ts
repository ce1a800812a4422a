/**
 * Command-line sizes for the benches and the bound on their run time.
 * Every bench takes `--name value` flags (numbers, comma-separated number
 * lists, or strings, by the type of the default); the first positional
 * arguments may stand for the first flags (`throughput.ts 1000 9` is
 * `--run-ms 1000 --rounds 9`), as the older commands in docs/benchmarks.md do.
 */
type Value = number | string | number[];

export function flags<T extends Record<string, Value>>(defaults: T, positional: (keyof T & string)[] = [], argv = process.argv.slice(2)): T {
  const out: Record<string, Value> = { ...defaults };
  const set = (key: string, raw: string) => {
    const d = defaults[key];
    if (d === undefined)
      throw new Error(
        `unknown flag --${key}; known: ${Object.keys(defaults)
          .map((k) => `--${k}`)
          .join(', ')}`,
      );
    if (typeof d === 'string') out[key] = raw;
    else {
      const nums = raw.split(',').map(Number);
      if (raw === '' || nums.some((n) => !Number.isFinite(n) || n < 1))
        throw new Error(`--${key} expects ${Array.isArray(d) ? 'numbers ≥ 1 like 1,4,16' : 'a number ≥ 1'}, got ${raw}`);
      out[key] = Array.isArray(d) ? nums : nums[0]!;
    }
  };
  let p = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq !== -1) set(a.slice(2, eq), a.slice(eq + 1));
      else set(a.slice(2), argv[++i] ?? '');
    } else {
      const key = positional[p++];
      if (key === undefined) throw new Error(`unexpected argument ${a}`);
      set(key, a);
    }
  }
  return out as T;
}

/**
 * Ends the process (status 3, children killed by the server's exit hook) if
 * the bench is still running after `seconds`: a peer that stops answering
 * must not hang CI or a long measurement session.
 */
export function capRunTime(seconds: number): void {
  setTimeout(() => {
    console.error(`bench: still running after ${seconds} s, giving up`);
    process.exit(3);
  }, seconds * 1000).unref();
}

/** The bench's result as its last line of output: what bench/report.ts and the smoke test read. */
export function printResult(result: object): void {
  console.log(JSON.stringify(result));
}
