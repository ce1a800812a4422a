// The `pg` driver for root integration tests and their child processes: a
// devDependency of this package only (an optional peer for users).
export { default as pg } from 'pg';
