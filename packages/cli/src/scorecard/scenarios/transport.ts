import type { Scenario } from '../types.js';

/** Scorecard scenarios: FM-04, FM-07, FM-13, FM-16, FM-17. */
export const TRANSPORT_SCENARIOS: readonly Scenario[] = [];
