import type { Scenario } from '../types.js';
import { fm04 } from './fm-04.js';
import { fm07 } from './fm-07.js';
import { fm13 } from './fm-13.js';
import { fm16 } from './fm-16.js';
import { fm17 } from './fm-17.js';

/** Scorecard scenarios: FM-04, FM-07, FM-13, FM-16, FM-17. */
export const TRANSPORT_SCENARIOS: readonly Scenario[] = [fm04, fm07, fm13, fm16, fm17];
