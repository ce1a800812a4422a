import type { Scenario } from '../types.js';
import { fm15 } from './fm-15.js';
import { fm18 } from './fm-18.js';

/** Scorecard scenarios: FM-15, FM-18. */
export const HOST_SCENARIOS: readonly Scenario[] = [fm15, fm18];
