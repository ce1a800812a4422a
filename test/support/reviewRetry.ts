import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import type { BreakwaterError } from '@breakwater/core';
import { createClient } from '@breakwater/http';
import { expect } from 'vitest';
import { listenHttp } from './httpServer.js';

// Helpers of the issue #17 review tests (review-retry*.test.ts): events, a recording server, a client
// closed after the test, and an abort during a backoff. Each takes the test file's `cleanups`.

/** Records every message on `names` until the test's cleanups run. */
export function listen(cleanups: (() => unknown)[], ...names: string[]): [string, Record<string, unknown>][] {
  const seen: [string, Record<string, unknown>][] = [];
  for (const name of names) {
    const fn = (m: unknown) => seen.push([name, m as Record<string, unknown>]);
    diagnosticsChannel.subscribe(name, fn);
    cleanups.push(() => diagnosticsChannel.unsubscribe(name, fn));
  }
  return seen;
}

/** A server answering each request with `answer(n, req, res)`, n = 1 for the first; it records every body. */
export async function server(
  cleanups: (() => unknown)[],
  answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
): Promise<{ origin: string; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  const port = await listenHttp((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      answer(bodies.length, req, res, body);
    });
  }, cleanups);
  return { origin: `http://127.0.0.1:${port}`, bodies };
}

/** A client with short backoffs, closed after the test. */
export function client(cleanups: (() => unknown)[], options: Parameters<typeof createClient>[0] = {}): ReturnType<typeof createClient> {
  const c = createClient({ baseDelayMs: 1, maxDelayMs: 5, ...options });
  cleanups.push(() => c.close());
  return c;
}

export async function rejection(p: Promise<unknown>): Promise<BreakwaterError> {
  try {
    await p;
  } catch (err) {
    return err as BreakwaterError;
  }
  throw new Error('expected a rejection');
}

export async function waitFor(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}

/** Aborts once the first retry is decided; checks the rejection is the caller's reason and the backoff's timer went with it. */
export async function abortDuringBackoff(ac: AbortController, pending: Promise<unknown>, seen: unknown[]): Promise<void> {
  await waitFor(() => seen.length === 1);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const inBackoff = timers();
  ac.abort(new Error('user left'));
  const err = await rejection(pending);
  expect(err.message).toBe('user left');
  expect(timers()).toBeLessThan(inBackoff);
}
