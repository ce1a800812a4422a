/**
 * The "looks read-only" rule removed by issue #15 (it lived in
 * packages/drivers/src/internal/guardedCall.ts): statements it called reads
 * were retried after a connection-level failure. Kept for the tests that show
 * what it did, as their negative control.
 */
const OLD_READ = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*(?:SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\b/i;
const OLD_NOT_READ = /\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bINTO\b|;\s*\S/i;

export const oldRuleSaysRead = (sql: string): boolean => OLD_READ.test(sql) && !OLD_NOT_READ.test(sql);
