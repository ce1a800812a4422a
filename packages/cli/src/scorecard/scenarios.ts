import path from 'node:path';
import { createScenarios, type HostDoctor, type Scenario } from '@breakwater/scorecard';
import { CLEAN, FOOTGUNS, writeTree } from '../doctor/procTrees.js';
import { DOCTOR_CHECKS, runDoctor } from '../doctor/runDoctor.js';

/** `breakwater doctor` as FM-18 measures it: on a fixture tree with every footgun, and on a clean one. */
export const CLI_DOCTOR: HostDoctor = {
  checks: DOCTOR_CHECKS,
  async diagnose(tree, dir) {
    const root = writeTree(dir, tree === 'footguns' ? FOOTGUNS : CLEAN);
    return runDoctor({ procRoot: path.join(root, 'proc'), etcRoot: path.join(root, 'etc') });
  },
};

/** Every scorecard scenario: FM-01 … FM-18 in order (FM-18 measuring this CLI's doctor), then the data contracts DC-01 … DC-04. */
export const SCENARIOS: readonly Scenario[] = createScenarios({ doctor: CLI_DOCTOR });
