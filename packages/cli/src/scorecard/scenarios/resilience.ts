import type { Scenario } from '../types.js';

/** Scorecard scenarios: FM-09, FM-10, FM-11, FM-12, FM-14. */
export const RESILIENCE_SCENARIOS: readonly Scenario[] = [];
