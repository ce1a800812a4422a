import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BreakwaterError } from '@breakwater/core';
import { createClient, type HttpClient } from '@breakwater/http';
import pRetry from 'p-retry';
import { Agent, request } from 'undici';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { listen, wait } from './resilience-support.js';

// DC-02, replayed bodies (issue #13): a PUT with a stream body whose first
// attempt loses its connection after the server read the body (the answer
// is lost). Naively, p-retry around undici's request() hands the same
// stream to the retry: it is already consumed, so the retry sends an empty
// body and the caller gets 200 — silent corruption. createClient() records a
// one-shot body up to maxReplayBodyBytes and resends identical bytes, or
// refuses the retry with a typed error when it cannot replay them.
// Healthy twin: a 10 MB stream upload on a healthy server goes out once, in
// full, as it is produced.

/** Under the default maxReplayBodyBytes (64 KiB): the body a retry can replay. */
const BODY_BYTES = 48 * 1024;
const TWIN_BYTES = 10 * 1024 * 1024;
const TWIN_CHUNK = 64 * 1024;

interface Attempt {
  length: number;
  sha256: string;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const short = (hex: string) => hex.slice(0, 8);

/** A fresh stream of `bytes`, in three chunks (a one-shot body: it can be read once). */
const streamOf = (bytes: Buffer) => Readable.from([bytes.subarray(0, 1_000), bytes.subarray(1_000, 20_000), bytes.subarray(20_000)]);

/**
 * A server recording the length and SHA-256 of every attempt per path; the
 * first attempt on a path under `/reset/` is read in full, then its
 * connection is reset (the server had the body, the answer is lost).
 */
async function recordingServer(ctx: ScenarioContext): Promise<{ url: (path: string) => string; attempts: (path: string) => Attempt[] }> {
  const seen = new Map<string, Attempt[]>();
  const { port } = await listen(ctx, (req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      length += c.length;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      const list = seen.get(path) ?? [];
      list.push({ length, sha256: hash.digest('hex') });
      seen.set(path, list);
      if (path.startsWith('/reset/') && list.length === 1) req.socket.resetAndDestroy();
      else res.end(String(length));
    });
  });
  return { url: (path) => `http://127.0.0.1:${port}${path}`, attempts: (path) => seen.get(path) ?? [] };
}

/** What the caller was told, and what the server accepted (the attempt it answered: the last). */
function judged(expected: Buffer, attempts: Attempt[], status: number | undefined) {
  const accepted = status === 200 ? attempts.at(-1) : undefined;
  const intact = accepted !== undefined && accepted.length === expected.length && accepted.sha256 === sha256(expected);
  const pct = accepted === undefined ? 0 : Math.round((100 * Math.min(accepted.length, expected.length)) / expected.length);
  const sent = attempts.map((a) => `${a.length.toLocaleString('en-US')} B`).join(' then ');
  return { accepted, intact, pct, sent };
}

async function naiveSide(ctx: ScenarioContext, server: Awaited<ReturnType<typeof recordingServer>>, bytes: Buffer): Promise<Measurement> {
  const agent = new Agent();
  ctx.defer(() => agent.destroy());
  const body = streamOf(bytes); // built once, as a caller passes its upload to the retried function
  const path = '/reset/naive';
  const status = await pRetry(
    async () => {
      const res = await request(server.url(path), { method: 'PUT', body, dispatcher: agent, signal: ctx.signal });
      await res.body.dump();
      return res.statusCode;
    },
    { retries: 2, minTimeout: 2, factor: 2, signal: ctx.signal },
  ).catch(() => undefined);
  const r = judged(bytes, server.attempts(path), status);
  const got = r.accepted === undefined ? 'nothing accepted' : `accepted ${r.accepted.length.toLocaleString('en-US')} B (SHA-256 ${short(r.accepted.sha256)})`;
  return {
    value: r.pct,
    unit: '%',
    text: `${status ?? 'error'}: server ${got}; sent ${r.sent}`,
    // The harm: the caller was told it worked, and the server accepted other bytes.
    ok: status === 200 && !r.intact,
  };
}

/** The http options that can end the PUT before or between attempts. */
const TIMING = ['deadlineMs', 'attemptTimeoutMs', 'connectTimeoutMs', 'headersTimeoutMs', 'bodyTimeoutMs', 'attempts'] as const;

/** The Breakwater side: the same reset PUT through `client`; identical bytes accepted, or a typed refusal. */
async function breakwaterSide(
  ctx: ScenarioContext,
  server: Awaited<ReturnType<typeof recordingServer>>,
  bytes: Buffer,
  client: HttpClient,
): Promise<Measurement> {
  const path = '/reset/breakwater';
  let status: number | undefined;
  let error: unknown;
  try {
    const res = await client.request(server.url(path), { method: 'PUT', body: streamOf(bytes), signal: ctx.signal });
    await res.body.dump();
    status = res.statusCode;
  } catch (err) {
    error = err;
  }
  ctx.signal.throwIfAborted();
  const r = judged(bytes, server.attempts(path), status);
  if (r.intact) return { value: 100, unit: '%', text: `200: server accepted identical bytes (SHA-256 ${short(sha256(bytes))}); sent ${r.sent}`, ok: true };
  // Not retried (a body it could not replay, or your options allow one attempt): a typed error, and nothing wrong accepted.
  // The first attempt was reset before any answer; a later one the server answered must not carry other bytes.
  const wrongAccepted = server
    .attempts(path)
    .slice(1)
    .some((a) => a.sha256 !== sha256(bytes));
  // A refusal counts only once the request was really made: the server saw the whole first attempt.
  const attempted = server.attempts(path)[0]?.length === bytes.length;
  if (error instanceof BreakwaterError && !attempted)
    return blameOptions(
      ctx,
      { value: 0, unit: '%', text: `${error.code} before the server saw the body; sent ${r.sent || 'nothing'}`, ok: false },
      ctx.config.http,
      TIMING,
    );
  if (error instanceof BreakwaterError && !wrongAccepted) {
    const why = typeof error.details.notRetried === 'string' ? `, not retried (${error.details.notRetried})` : '';
    return { value: 0, unit: '%', text: `${error.code}${why}: nothing wrong accepted; sent ${r.sent}`, ok: true };
  }
  const why = error === undefined ? `${status}: server accepted ${r.accepted?.length ?? 0} B` : ((error as { code?: string }).code ?? String(error));
  return blameOptions(ctx, { value: r.pct, unit: '%', text: `${why}; sent ${r.sent}`, ok: false }, ctx.config.http, [...TIMING, 'maxReplayBodyBytes']);
}

/**
 * Healthy twin: a 10 MB PUT streamed in 64 KiB chunks (a pause each MiB, as
 * a producer would), on a server that answers at once. A client from `make`
 * must send it once, in full, and get 200.
 */
export async function bigUploadTwin(ctx: ScenarioContext, make: () => HttpClient): Promise<Measurement> {
  const server = await recordingServer(ctx);
  const client = make();
  ctx.defer(() => client.close());
  const chunk = Buffer.alloc(TWIN_CHUNK, 7);
  const body = Readable.from(
    (async function* () {
      for (let sent = 0; sent < TWIN_BYTES; sent += chunk.length) {
        if (sent % (1024 * 1024) === 0) await wait(ctx, 20);
        yield chunk;
      }
    })(),
  );
  const path = '/twin';
  let outcome: string;
  let status: number | undefined;
  try {
    const res = await client.request(server.url(path), { method: 'PUT', body, signal: ctx.signal });
    await res.body.dump();
    status = res.statusCode;
    outcome = String(status);
  } catch (err) {
    outcome = (err as { code?: string }).code ?? String(err);
  }
  ctx.signal.throwIfAborted();
  const attempts = server.attempts(path);
  const expected = sha256(Buffer.concat(Array.from({ length: TWIN_BYTES / TWIN_CHUNK }, () => chunk)));
  const ok = status === 200 && attempts.length === 1 && attempts[0]!.length === TWIN_BYTES && attempts[0]!.sha256 === expected;
  const seen = attempts.map((a) => `${(a.length / 1e6).toFixed(1)} MB`).join(', ') || 'nothing';
  return {
    value: attempts.length,
    unit: 'count',
    text: ok ? '10 MB streamed PUT: 1 attempt, bytes intact, 200' : `10 MB streamed PUT: ${outcome} after ${attempts.length} attempt(s) (${seen})`,
    ok,
  };
}

export const DC_02: Scenario = {
  id: 'DC-02',
  title: 'Replayed bodies (stream PUT reset)',
  bound: 'the accepted attempt has the sent bytes (same SHA-256), or a typed error and nothing accepted',
  naiveExpectation: '200 for an attempt with other bytes (empty stream resent)',
  twinExpectation: 'a 10 MB streamed PUT on a healthy server: one attempt, bytes intact',
  requires: [],
  budgetMs: 20_000,
  async run(ctx) {
    const bytes = Buffer.from(Array.from({ length: BODY_BYTES / 16 }, (_, i) => `line ${String(i).padStart(10, '0')};`).join(''));
    const server = await recordingServer(ctx);
    ctx.progress('naive: p-retry around undici request() with a stream body');
    const naive = await naiveSide(ctx, server, bytes);
    ctx.progress('breakwater: createClient().request() with a stream body');
    const make = () => createClient(ctx.config.http);
    const client = make();
    ctx.defer(() => client.close());
    const breakwater = await breakwaterSide(ctx, server, bytes, client);
    ctx.progress('healthy twin: a 10 MB streamed upload');
    const twin = blameOptions(ctx, await bigUploadTwin(ctx, make), ctx.config.http, TIMING);
    return {
      naive,
      breakwater,
      twin,
      notes: [
        `a ${BODY_BYTES / 1024} KiB PUT from a Readable (under the default maxReplayBodyBytes, 64 KiB); the server reads it, then resets the connection on the first attempt; the value is the share of the sent bytes in the attempt the server answered 200`,
        `naive: p-retry (retries: 2) around undici request() with the caller's stream, which the first attempt consumed (undici's own interceptors.retry refuses instead: ECONNRESET to the caller, no corruption); Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)}`,
      ],
    };
  },
};
