import { BreakwaterError, Deadline, MAX_TIMER_MS, msRule, validateOptionsObject, validateSignal } from '@breakwater/core';
import type { SendOptions } from './AckClientEvents.js';

const sendDeadlineMs = msRule(1);

/** Checks `send()`'s arguments; throws BW_ERR_INVALID_OPTION naming the key. `maxBytes`: the largest payload that fits a frame and the buffer. */
export function validateSend(
  payload: unknown,
  options: SendOptions,
  maxBytes: number,
  horizonMs = Number.POSITIVE_INFINITY,
): { buf: Buffer; signal: AbortSignal | undefined; deadline: Deadline | undefined; deadlineMs: number | undefined } {
  const o = validateOptionsObject<SendOptions>(options, 'send() options', ['signal', 'deadline', 'deadlineMs']);
  const signal = validateSignal(o.signal);
  if (o.deadline !== undefined && !(o.deadline instanceof Deadline)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `deadline` to be a Deadline', { details: { key: 'deadline' } });
  }
  if (o.deadline !== undefined && o.deadlineMs !== undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected one of `deadline` and `deadlineMs`, got both', {
      details: { key: 'deadlineMs' },
      hint: '`deadlineMs` is a time limit from now; `deadline` an existing Deadline (e.g. shared with the caller).',
    });
  }
  const key = o.deadlineMs === undefined ? 'deadline' : 'deadlineMs';
  const ms = o.deadlineMs === undefined ? undefined : sendDeadlineMs(o.deadlineMs, 'deadlineMs');
  const remainingMs = ms ?? o.deadline?.remainingMs();
  if (remainingMs !== undefined && remainingMs >= horizonMs) {
    // Retransmits could go on after the servers forgot the message: it could be handled twice.
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`${key}\` (${Math.round(remainingMs)} ms${ms === undefined ? ' left' : ''}) to be below \`serverDedupHorizonMs\` (${horizonMs})`,
      { details: { key }, hint: 'A send may retransmit until its deadline; the servers remember a message only for dedupHorizonMs.' },
    );
  }
  const buf = validatePayload(payload, maxBytes);
  // `deadlineMs` becomes a Deadline only once the send is admitted (the client owns and disposes it).
  return { buf, signal, deadline: o.deadline, deadlineMs: ms };
}

/** The payload as a Buffer of at most `maxBytes`; throws BW_ERR_INVALID_OPTION otherwise. */
export function validatePayload(payload: unknown, maxBytes: number): Buffer {
  const buf = toBuffer(payload);
  if (buf.length > maxBytes) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`payload\` to be at most ${maxBytes} bytes (maxFrameBytes, maxBufferedBytes), got ${buf.length}`,
      {
        details: { key: 'payload' },
      },
    );
  }
  return buf;
}

function toBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `payload` to be a Buffer, a Uint8Array or a string', { details: { key: 'payload' } });
}

/**
 * Every timer of the client is unref'd, so a pending send alone would not
 * keep Node running: `await client.send(m, { deadline })` at the end of a
 * script would exit with an unsettled promise (code 13) instead of settling
 * by its deadline. Like a socket with a request in flight, the client keeps
 * the process alive exactly while a send() is pending.
 */
export class ProcessHold {
  #pending = 0;
  #keepAlive: NodeJS.Timeout | undefined;

  hold(): void {
    if (this.#pending++ === 0) this.#keepAlive = setInterval(() => {}, MAX_TIMER_MS);
  }

  release(): void {
    if (--this.#pending === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
