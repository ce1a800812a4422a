import type { Scenario } from '../types.js';

/** Scorecard scenarios: FM-15, FM-18. */
export const HOST_SCENARIOS: readonly Scenario[] = [];
