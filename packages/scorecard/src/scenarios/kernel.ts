import type { Scenario } from '../types.js';
import { FM_01 } from './fm-01.js';
import { FM_02 } from './fm-02.js';
import { FM_03 } from './fm-03.js';
import { FM_05 } from './fm-05.js';
import { FM_06 } from './fm-06.js';
import { FM_08 } from './fm-08.js';

/** Scorecard scenarios: FM-01, FM-02, FM-03, FM-05, FM-06, FM-08 (netns + nftables). */
export const KERNEL_SCENARIOS: readonly Scenario[] = [FM_01, FM_02, FM_03, FM_05, FM_06, FM_08];
