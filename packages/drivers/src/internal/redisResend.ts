import { MAX_TIMER_MS } from '@breakwater/core';
import { exists, hasFlag } from '@ioredis/commands';
import type { Redis } from 'ioredis';
import { classifyDriverError } from './classifyDriverError.js';
import { outcomeError } from './outcome.js';

/** The parts of ioredis 6's `Command` and client used here (internals: `commandQueue`, `prevCommandQueue`). */
interface Command {
  readonly name: string;
  readonly args: unknown[];
  readonly inTransaction?: boolean;
  reject(err: Error): void;
  setTimeout(ms: number): void;
  extractBlockingTimeout?(): number | null | undefined;
}
interface Queue {
  readonly length: number;
  peekAt(i: number): { command: Command } | undefined;
  peekBack(): { command: Command } | undefined;
  remove(i: number, n: number): unknown;
}
interface Internals {
  commandQueue: Queue;
  prevCommandQueue: Queue | null | undefined;
}

export type IsIdempotent = ((statement: unknown) => boolean) | undefined;

/**
 * Whether a command may be sent again after its reply was lost: read-only by
 * Redis's own command table (`readonly` flag, as ioredis ships it in
 * @ioredis/commands: GET, EVAL_RO, FCALL_RO, SORT_RO…), or the caller's
 * `isIdempotent({ name, args })` says so. Never MULTI, EXEC or a command
 * queued inside a transaction: a resent MULTI would open a transaction that
 * swallows whatever comes next. Blocking commands follow the same rule
 * (BLPOP and friends are writes: never; XREAD BLOCK is a read: resent).
 */
export function isResendable(command: Pick<Command, 'name' | 'args' | 'inTransaction'>, predicate: IsIdempotent): boolean {
  const name = command.name.toLowerCase();
  if (name === 'multi' || name === 'exec' || command.inTransaction === true) return false;
  if (predicate !== undefined) {
    try {
      return predicate({ name, args: command.args }) === true;
    } catch {
      // A predicate that fails cannot vouch for the command (and must not throw inside ioredis).
      return false;
    }
  }
  return exists(name) && hasFlag(name, 'readonly');
}

/**
 * Resends after a reconnect only what `isResendable` allows, and tells the
 * callers of the rest that their command may or may not have run
 * (BW_ERR_OUTCOME_UNKNOWN): ioredis' `autoResendUnfulfilledCommands` (on by
 * default) resends every command whose reply was lost, so an EVAL that
 * INCRs ran twice behind one success (issue #15). Also: a sent command that
 * is not resendable fails with `mayHaveApplied` on its deadline or a lost
 * connection, and a blocking command's deadline is its block time plus
 * `queryTimeoutMs` (BLPOP 10 under a 5 s deadline would fail at 5 s and pop
 * an element nobody receives).
 */
export function guardResends(
  client: Redis,
  where: { host: string; port: number },
  queryTimeoutMs: number,
  predicate: IsIdempotent,
  { raw = false }: { raw?: boolean } = {},
): void {
  const internals = client as unknown as Internals;
  const sent = new WeakSet<Command>();
  const send = client.sendCommand;
  client.sendCommand = function sendCommand(this: Redis, ...args: Parameters<Redis['sendCommand']>) {
    const command = args[0] as unknown as Command;
    if (queryTimeoutMs > 0 && hasFlag(command.name.toLowerCase(), 'blocking', { nameCaseInsensitive: true })) {
      const seconds = command.extractBlockingTimeout?.();
      // Set before ioredis sets its own: Command.setTimeout keeps the first timer.
      if (typeof seconds === 'number' && seconds > 0) command.setTimeout(Math.min(MAX_TIMER_MS, seconds * 1_000 + queryTimeoutMs));
      else if (seconds === null && !/^xread/i.test(command.name)) command.setTimeout(MAX_TIMER_MS);
    }
    const reject = command.reject.bind(command);
    if (!(command as { bwGuarded?: boolean }).bwGuarded) {
      (command as { bwGuarded?: boolean }).bwGuarded = true;
      command.reject = (err: Error) => {
        const resendable = isResendable(command, predicate);
        // raw (a Cluster's node): errors go on unchanged unless the command may have run and is not safe to repeat.
        if (raw && (!sent.has(command) || resendable)) return reject(err);
        const mapped = classifyDriverError(err, { ...where, driver: 'ioredis' });
        reject((sent.has(command) ? outcomeError(mapped, resendable) : mapped) as Error);
      };
    }
    const result = send.apply(this, args);
    if (internals.commandQueue.peekBack()?.command === command) sent.add(command);
    return result;
  } as Redis['sendCommand'];

  // closeHandler sets prevCommandQueue and schedules 'reconnecting' (next tick, before the reconnect timer):
  // the lost replies are decided here.
  client.on('reconnecting', () => {
    const queue = internals.prevCommandQueue;
    if (queue === null || queue === undefined) return;
    const resend = client.options.autoResendUnfulfilledCommands !== false;
    for (let i = 0; i < queue.length; ) {
      const command = queue.peekAt(i)?.command as Command;
      if (resend && isResendable(command, predicate)) {
        i += 1;
        continue;
      }
      queue.remove(i, 1);
      command.reject(new Error('Connection is closed.'));
    }
  });
}
