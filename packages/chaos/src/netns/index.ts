export { createTopology, type Topology } from './createTopology.js';
export { type HopMtuOptions, TOPOLOGY_DEFAULTS, type TopologyOptions } from './defaults.js';
export type { Host, HostInterface } from './Host.js';
export type { Chain, NftRule, NftRules } from './NftRules.js';
export type { NodeSource, NsProcess, SpawnNodeOptions } from './NsProcess.js';
export { type NetnsSupport, netnsSupport } from './support.js';
export { listNetnsResources, type NetnsResource, type SweepOptions, sweepStaleNetns, sweepStaleNetnsSync } from './sweep.js';
