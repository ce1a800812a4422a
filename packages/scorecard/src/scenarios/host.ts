import type { Scenario } from '../types.js';
import { fm15 } from './fm-15.js';
import { fm18, type HostDoctor } from './fm-18.js';

/** Scorecard scenarios: FM-15, FM-18 (with the host doctor FM-18 measures). */
export const hostScenarios = (doctor: HostDoctor): readonly Scenario[] => [fm15, fm18(doctor)];
