import { BreakwaterError } from '@breakwater/core';
import type { DriverOptions } from '@breakwater/drivers';
import { createPgPool } from '@breakwater/drivers/pg';
import pRetry from 'p-retry';
import pg from 'pg';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { whose } from './config-support.js';
import { type CuttingProxy, cuttingProxy, POSTGRES_PROGRAMS, startPostgres } from './contracts-pg.js';

// DC-04, write-like reads (issue #15): statements that read like reads and
// write — `SELECT nextval(…)`, `SELECT f()` where f inserts, `WITH … INSERT
// … SELECT` — run against a real PostgreSQL through a proxy that resets the
// client's connection after the server ran (and committed) the statement,
// instead of forwarding its answer. Naively, p-retry around a plain pg.Pool
// sends it again: it runs twice and the caller sees one success. Breakwater's
// createPgPool() never retries a statement it cannot tell is idempotent once
// it was sent: BW_ERR_OUTCOME_UNKNOWN (mayHaveApplied), one execution.
// Healthy twin: a real read, marked `{ idempotent: true }` (Breakwater has
// deliberately no "looks read-only" rule), reset the same way: retried once,
// right answer.

/** The schema both sides write through: a sequence per side, and a function that inserts an order. */
const SCHEMA = `
  CREATE TABLE bw_orders (id bigserial PRIMARY KEY, tag text NOT NULL);
  CREATE FUNCTION bw_place_order(t text) RETURNS bigint LANGUAGE sql AS $$ INSERT INTO bw_orders (tag) VALUES (t) RETURNING id $$;
  CREATE SEQUENCE bw_ids_naive; CREATE SEQUENCE bw_ids_breakwater;`;

type Side = 'naive' | 'breakwater';

/** The three write-like reads (`cut`: the proxy's marker), each with the query that counts how often it ran. */
function statements(side: Side) {
  const marked = (cut: string, sql: string) => ({ cut: `${side}-${cut}`, sql: `${sql} /*bw-cut:${side}-${cut}*/` });
  return [
    {
      name: 'nextval()',
      ...marked('nextval', `SELECT nextval('bw_ids_${side}') AS v`),
      runs: `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM bw_ids_${side}`,
    },
    { name: 'SELECT f()', ...marked('fn', `SELECT bw_place_order('${side}-fn') AS v`), runs: `SELECT count(*) AS n FROM bw_orders WHERE tag = '${side}-fn'` },
    {
      name: 'WITH … INSERT',
      ...marked('cte', `WITH w AS (INSERT INTO bw_orders (tag) VALUES ('${side}-cte') RETURNING id) SELECT id AS v FROM w`),
      runs: `SELECT count(*) AS n FROM bw_orders WHERE tag = '${side}-cte'`,
    },
  ];
}

export interface Database {
  /** Direct to the server: counts effects, never cut. */
  admin: pg.Pool;
  /** Where the pools under test connect: the cutting proxy. */
  via: pg.PoolConfig;
  proxy: CuttingProxy;
}

/** A throw-away PostgreSQL with the schema, and the cutting proxy in front of it. */
export async function startDatabase(ctx: ScenarioContext): Promise<Database> {
  const server = await startPostgres(ctx);
  const proxy = await cuttingProxy(ctx, server);
  const base = { user: 'postgres', database: 'postgres', max: 2 };
  const admin = ownPool(ctx, new pg.Pool({ ...base, host: server.host, port: server.port }));
  await admin.query(SCHEMA);
  return { admin, via: { ...base, host: '127.0.0.1', port: proxy.port }, proxy };
}

/** A pool ended by the scenario's defers; an idle client's error (the reset) does not crash the process. */
function ownPool(ctx: ScenarioContext, pool: pg.Pool): pg.Pool {
  pool.on('error', () => {});
  ctx.defer(() => pool.end());
  return pool;
}

const count = async (db: Database, sql: string) => Number((await db.admin.query(sql)).rows[0].n);

/** Runs the side's three statements through `call`, each armed to lose its answer; returns executions and outcomes. */
async function runSide(ctx: ScenarioContext, db: Database, side: Side, call: (sql: string) => Promise<unknown>) {
  const results: { name: string; runs: number; outcome: unknown }[] = [];
  for (const s of statements(side)) {
    ctx.signal.throwIfAborted();
    db.proxy.arm(s.cut);
    const outcome = await call(s.sql).then(
      () => 'ok',
      (err: unknown) => err,
    );
    results.push({ name: s.name, runs: await count(db, s.runs), outcome });
  }
  return results;
}

const runsText = (results: { name: string; runs: number }[]) => results.map((r) => `${r.name} ${r.runs}×`).join(', ');

async function naiveSide(ctx: ScenarioContext, db: Database): Promise<Measurement> {
  const pool = ownPool(ctx, new pg.Pool(db.via));
  // p-retry as commonly configured around a query (retries: 2, i.e. 3 attempts; delays shortened).
  const results = await runSide(ctx, db, 'naive', (sql) => pRetry(() => pool.query(sql), { retries: 2, minTimeout: 2, factor: 2, signal: ctx.signal }));
  const total = results.reduce((n, r) => n + r.runs, 0);
  const reportedOk = results.filter((r) => r.outcome === 'ok').length;
  return {
    value: total,
    unit: 'count',
    text: `${reportedOk}/3 reported done once, ran ${total}× (${runsText(results)})`,
    ok: results.every((r) => r.runs >= 2),
  };
}

/** The outcome-unknown refusal the contract asks for: typed, not retryable, saying the statement may have run. */
const outcomeUnknown = (e: unknown) =>
  e instanceof BreakwaterError && e.code === 'BW_ERR_OUTCOME_UNKNOWN' && e.retryable === false && e.details.mayHaveApplied === true;

async function breakwaterSide(ctx: ScenarioContext, db: Database, options: DriverOptions): Promise<Measurement> {
  const pool = ownPool(ctx, createPgPool(db.via, options));
  const results = await runSide(ctx, db, 'breakwater', (sql) => pool.query(sql));
  const total = results.reduce((n, r) => n + r.runs, 0);
  const ok = results.every((r) => r.runs === 1 && outcomeUnknown(r.outcome));
  const outcomes = [...new Set(results.map((r) => (r.outcome === 'ok' ? 'reported done' : ((r.outcome as { code?: string }).code ?? String(r.outcome)))))].join(
    ', ',
  );
  const yours = options.isIdempotent === undefined ? '' : ': isIdempotent (your option) lets statements that may have run be sent again';
  return {
    value: total,
    unit: 'count',
    text: ok ? `3/3 ${outcomes} (mayHaveApplied), ran ${total}× (${runsText(results)})` : `${outcomes}, ran ${total}× (${runsText(results)})${yours}`,
    ok,
  };
}

/**
 * Healthy twin: `SELECT count(*) FROM bw_orders` marked `{ idempotent: true }`,
 * its answer lost the same way; a pool from `make` must send it again and
 * return the right count (2 attempts at the server).
 */
export async function markedReadTwin(ctx: ScenarioContext, db: Database, make: (config: pg.PoolConfig) => pg.Pool): Promise<Measurement> {
  const pool = ownPool(ctx, make(db.via));
  const truth = await count(db, 'SELECT count(*) AS n FROM bw_orders');
  db.proxy.arm('twin');
  const got = await pool.query({ text: 'SELECT count(*) AS n FROM bw_orders /*bw-cut:twin*/', idempotent: true }).then(
    (r) => Number(r.rows[0].n),
    (err: unknown) => (err as { code?: string }).code ?? String(err),
  );
  const attempts = db.proxy.sent('twin');
  const ok = got === truth && attempts === 2;
  return {
    value: attempts,
    unit: 'count',
    text: ok
      ? `answer lost once, retried: right count (${truth}) after 2 attempts`
      : `answer lost once: ${got} after ${attempts} attempt(s) (count is ${truth})`,
    ok,
  };
}

export const DC_04: Scenario = {
  id: 'DC-04',
  title: 'Write-like reads, answer lost',
  bound: 'each runs once; BW_ERR_OUTCOME_UNKNOWN (mayHaveApplied) to the caller',
  naiveExpectation: 'each statement runs twice (p-retry around pg.Pool)',
  twinExpectation: 'a read marked idempotent, its answer lost the same way: retried once, right answer',
  requires: ['program'],
  programs: POSTGRES_PROGRAMS,
  budgetMs: 40_000,
  async run(ctx) {
    ctx.progress('starting a throw-away PostgreSQL');
    const db = await startDatabase(ctx);
    ctx.progress('naive: p-retry around pg.Pool, answers lost after the server ran the statement');
    const naive = await naiveSide(ctx, db);
    ctx.progress('breakwater: createPgPool()');
    const breakwater = await breakwaterSide(ctx, db, ctx.config.drivers);
    ctx.progress('healthy twin: a read marked idempotent');
    const twin = await markedReadTwin(ctx, db, (config) => createPgPool(config, ctx.config.drivers));
    return {
      naive,
      breakwater,
      twin,
      notes: [
        "a throw-away PostgreSQL on 127.0.0.1 behind a proxy that lets the statement run and commit, then resets the client's connection instead of forwarding the answer; the value is how many times the 3 statements ran (counted in the database)",
        `naive: p-retry (retries: 2) around pg.Pool query(); Breakwater: ${whose(ctx, 'createPgPool()', ctx.config.drivers)} — no "looks read-only" rule: a statement is retried after it was sent only when marked { idempotent: true } or by the isIdempotent option`,
      ],
    };
  },
};
