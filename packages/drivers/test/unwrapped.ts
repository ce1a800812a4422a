// The drivers themselves, for integration tests at the repository root (they
// are devDependencies of this package only): the unwrapped negative controls.
export { Redis } from 'ioredis';
export { default as mysql } from 'mysql2/promise';
export { default as pg } from 'pg';
