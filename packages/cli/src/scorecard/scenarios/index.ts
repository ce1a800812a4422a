import type { Scenario } from '../types.js';
import { HOST_SCENARIOS } from './host.js';
import { KERNEL_SCENARIOS } from './kernel.js';
import { RESILIENCE_SCENARIOS } from './resilience.js';
import { TRANSPORT_SCENARIOS } from './transport.js';

/** Every scorecard scenario, in FM order. */
export const SCENARIOS: readonly Scenario[] = [...KERNEL_SCENARIOS, ...TRANSPORT_SCENARIOS, ...RESILIENCE_SCENARIOS, ...HOST_SCENARIOS].sort((a, b) =>
  a.id.localeCompare(b.id),
);
