import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['scorecard.test.mjs'] } });
