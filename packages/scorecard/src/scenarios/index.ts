import type { Scenario } from '../types.js';
import { CONTRACT_SCENARIOS } from './contracts.js';
import type { HostDoctor } from './fm-18.js';
import { hostScenarios } from './host.js';
import { KERNEL_SCENARIOS } from './kernel.js';
import { RESILIENCE_SCENARIOS } from './resilience.js';
import { TRANSPORT_SCENARIOS } from './transport.js';

/** What {@link createScenarios} needs from its caller. */
export interface CreateScenariosOptions {
  /** The host doctor FM-18 measures (`breakwater doctor`'s checks, run on fixture trees). */
  doctor: HostDoctor;
}

/** Every scorecard scenario: FM-01 … FM-18 in order, then the data contracts DC-01 … DC-04. */
export function createScenarios(options: CreateScenariosOptions): readonly Scenario[] {
  const fm = [...KERNEL_SCENARIOS, ...TRANSPORT_SCENARIOS, ...RESILIENCE_SCENARIOS, ...hostScenarios(options.doctor)].sort((a, b) => a.id.localeCompare(b.id));
  return [...fm, ...CONTRACT_SCENARIOS];
}
