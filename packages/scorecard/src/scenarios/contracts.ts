import type { Scenario } from '../types.js';
import { DC_01 } from './dc-01.js';
import { DC_02 } from './dc-02.js';
import { DC_03 } from './dc-03.js';
import { DC_04 } from './dc-04.js';

/** Scorecard rows for the data-safety contracts (DC-01 … DC-04): loopback, child processes and a throw-away PostgreSQL; DC-01 needs root (netns + nft). */
export const CONTRACT_SCENARIOS: readonly Scenario[] = [DC_01, DC_02, DC_03, DC_04];
