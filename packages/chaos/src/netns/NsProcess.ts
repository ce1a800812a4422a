import { type ChildProcess, spawn } from 'node:child_process';
import { validateNumber, validateOptionsObject } from '@breakwater/core';
import { killHard, track, untrack } from './registry.js';

/** Where the code of a child comes from: an ES module source string, or a file. */
export type NodeSource = string | { file: string };

export interface SpawnNodeOptions {
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string>;
  /** How long `ready` waits for the first JSON line. @defaultValue 10_000 */
  readyTimeoutMs?: number;
}

export const SPAWN_NODE_DEFAULTS = Object.freeze({ readyTimeoutMs: 10_000 });

/** How long `kill()` waits for the exit before giving up. */
const KILL_WAIT_MS = 5_000;
/** Captured stdout/stderr are capped: a chatty child must not grow the test's memory. */
const MAX_CAPTURE = 64 * 1024;

/**
 * Runs in the child before its own code: exit when the parent is gone.
 * `ip netns exec` execs in place, so the parent is the test process itself.
 * The sweeper handles children frozen at that moment (they cannot run this).
 */
const ORPHAN_GUARD = `const p=process.ppid;setInterval(()=>{if(process.ppid!==p)process.kill(process.pid,'SIGKILL')},500).unref();`;

/** A Node child process running in a host's namespace. */
export interface NsProcess {
  readonly pid: number;
  /**
   * The first line the child prints on stdout that parses as JSON, e.g.
   * `{"port":1234}`. Rejects when the child exits first or after `readyTimeoutMs`.
   */
  readonly ready: Promise<unknown>;
  /** The exit code, or null when a signal ended it. Never rejects. */
  readonly exited: Promise<number | null>;
  /** Every JSON line printed so far, in order. */
  readonly messages: readonly unknown[];
  /** Captured output (the last 64 KB of each). */
  readonly stdout: string;
  readonly stderr: string;
  readonly frozen: boolean;
  /** SIGSTOP: the process stops; its kernel sockets still ACK and accept (a gray failure). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** SIGCONT if frozen, then `signal` (SIGKILL by default); resolves when it has exited. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnNodeProcess(namespace: string | null, source: NodeSource, args: readonly string[], options: SpawnNodeOptions = {}): NsProcess {
  const given = validateOptionsObject<SpawnNodeOptions>(options, 'spawnNode() options', ['env', 'readyTimeoutMs']);
  const readyTimeoutMs = validateNumber(given.readyTimeoutMs ?? SPAWN_NODE_DEFAULTS.readyTimeoutMs, 'readyTimeoutMs', { min: 1, max: 600_000 });
  const body = typeof source === 'string' ? ['--input-type=module', '-e', source, '--'] : [source.file];
  const nodeArgs = ['--import', `data:text/javascript,${encodeURIComponent(ORPHAN_GUARD)}`, ...body, ...args];
  const [file, argv] = namespace === null ? [process.execPath, nodeArgs] : ['ip', ['netns', 'exec', namespace, process.execPath, ...nodeArgs]];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...given.env } });
  return new ChildHandle(child, readyTimeoutMs);
}

class ChildHandle implements NsProcess {
  readonly pid: number;
  readonly ready: Promise<unknown>;
  readonly exited: Promise<number | null>;
  readonly messages: unknown[] = [];
  #stdout = '';
  #stderr = '';
  #frozen = false;
  #exitCode: number | null | undefined;

  constructor(child: ChildProcess, readyTimeoutMs: number) {
    // spawn() reports a missing binary asynchronously; pid is undefined then.
    this.pid = child.pid ?? -1;
    if (child.pid !== undefined) track('process', child.pid);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        if (this.#exitCode !== undefined) return;
        this.#exitCode = code;
        if (child.pid !== undefined) untrack('process', child.pid);
        resolve(code);
      };
      child.once('exit', (code) => done(code));
      child.once('error', (error) => {
        this.#stderr += `spawn failed: ${error.message}\n`;
        done(null);
      });
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child ${this.pid} printed no JSON line within ${readyTimeoutMs} ms; stderr: ${this.#stderr.trim()}`)),
        readyTimeoutMs,
      );
      timer.unref();
      let pending = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#stdout = (this.#stdout + chunk).slice(-MAX_CAPTURE);
        pending += chunk;
        let nl = pending.indexOf('\n');
        while (nl !== -1) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
          if (!line.startsWith('{') && !line.startsWith('[')) continue;
          try {
            const message: unknown = JSON.parse(line);
            this.messages.push(message);
            clearTimeout(timer);
            resolve(message);
          } catch {
            // Not JSON after all: only captured.
          }
        }
      });
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#stderr = (this.#stderr + chunk).slice(-MAX_CAPTURE);
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        // Let the last stdout chunk land first: 'exit' can precede the final 'data'.
        setImmediate(() => reject(new Error(`child ${this.pid} exited (code ${code}) before printing a JSON line; stderr: ${this.#stderr.trim()}`)));
      });
    });
    // Callers that never look at `ready` must not get an unhandled rejection.
    this.ready.catch(() => {});
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#exitCode !== undefined || this.pid < 0) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Exited in between.
    }
  }

  freeze(): void {
    this.#signal('SIGSTOP');
    this.#frozen = true;
  }

  thaw(): void {
    this.#signal('SIGCONT');
    this.#frozen = false;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.#exitCode !== undefined) return this.#exitCode;
    if (this.#frozen) this.thaw();
    this.#signal(signal);
    const first = await this.#exitWithin(KILL_WAIT_MS);
    if (first !== 'late') return first;
    // `signal` was ignored (SIGTERM with a handler): insist.
    if (this.pid > 0) killHard(this.pid);
    const second = await this.#exitWithin(KILL_WAIT_MS);
    return second === 'late' ? null : second;
  }

  async #exitWithin(ms: number): Promise<number | null | 'late'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
