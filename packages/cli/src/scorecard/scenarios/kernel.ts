import type { Scenario } from '../types.js';

/** Scorecard scenarios: FM-01, FM-02, FM-03, FM-05, FM-06, FM-08 (netns + nftables). */
export const KERNEL_SCENARIOS: readonly Scenario[] = [];
