import { BreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { classifyDriverError } from './classifyDriverError.js';

const ctx = { host: 'db', port: 5432, driver: 'pg' as const };

describe('classifyDriverError()', () => {
  it.each([
    [new Error('Query read timeout'), 'BW_ERR_DEADLINE'],
    [new Error('Command timed out'), 'BW_ERR_DEADLINE'],
    [new Error('Connection terminated unexpectedly'), 'BW_ERR_PEER_CLOSED'],
    [new Error('Connection terminated due to connection timeout'), 'BW_ERR_CONNECT_TIMEOUT'],
    [Object.assign(new Error('terminating connection due to idle-session timeout'), { code: '57P05', severity: 'FATAL' }), 'BW_ERR_PEER_CLOSED'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'BW_ERR_CONNECT_REFUSED'],
    [Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }), 'BW_ERR_PEER_CLOSED'],
    [Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true }), 'BW_ERR_PEER_CLOSED'],
    [Object.assign(new Error('Query inactivity timeout'), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }), 'BW_ERR_DEADLINE'],
    [Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT', syscall: 'connect', fatal: true }), 'BW_ERR_CONNECT_TIMEOUT'],
    [Object.assign(new Error('Server shutdown in progress'), { code: 'ER_SERVER_SHUTDOWN', errno: 1053, sqlState: '08S01' }), 'BW_ERR_PEER_CLOSED'],
  ])('maps %s to %s with the original as cause', (error, code) => {
    const mapped = classifyDriverError(error, ctx);
    expect(mapped).toBeInstanceOf(BreakwaterError);
    expect(mapped).toMatchObject({ code });
    expect((mapped as Error).cause).toBe(error);
  });

  it('passes SQL errors and Redis replies through unchanged', () => {
    const sql = Object.assign(new Error('relation "x" does not exist'), { code: '42P01', severity: 'ERROR' });
    const reply = Object.assign(new Error('WRONGTYPE'), { name: 'ReplyError' });
    expect(classifyDriverError(sql, ctx)).toBe(sql);
    expect(classifyDriverError(reply, { ...ctx, driver: 'ioredis' })).toBe(reply);
    const mysqlSql = Object.assign(new Error("Table 'x' doesn't exist"), { code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlState: '42S02' });
    expect(classifyDriverError(mysqlSql, { ...ctx, driver: 'mysql2' })).toBe(mysqlSql);
  });

  it('maps our own statement_timeout firing on the server to BW_ERR_DEADLINE (rolled back); a user cancel stays a SQL error', () => {
    const timeout = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', severity: 'ERROR' });
    expect(classifyDriverError(timeout, ctx)).toMatchObject({ code: 'BW_ERR_DEADLINE', details: { mayHaveApplied: false, serverCancelled: true } });
    const cancel = Object.assign(new Error('canceling statement due to user request'), { code: '57014', severity: 'ERROR' });
    expect(classifyDriverError(cancel, ctx)).toBe(cancel);
  });
});
