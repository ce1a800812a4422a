import type { Scenario } from '../types.js';
import { FM_09 } from './fm-09.js';
import { FM_10 } from './fm-10.js';
import { FM_11 } from './fm-11.js';
import { FM_12 } from './fm-12.js';
import { FM_14 } from './fm-14.js';

/** Scorecard scenarios: FM-09, FM-10, FM-11, FM-12, FM-14 (loopback and child processes: no root needed). */
export const RESILIENCE_SCENARIOS: readonly Scenario[] = [FM_09, FM_10, FM_11, FM_12, FM_14];
