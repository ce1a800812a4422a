export {
  type Chain,
  createTopology,
  type HopMtuOptions,
  type Host,
  type HostInterface,
  listNetnsResources,
  type NetnsResource,
  type NetnsSupport,
  type NftRule,
  type NftRules,
  type NodeSource,
  type NsProcess,
  netnsSupport,
  type SpawnNodeOptions,
  type SweepOptions,
  sweepStaleNetns,
  sweepStaleNetnsSync,
  TOPOLOGY_DEFAULTS,
  type Topology,
  type TopologyOptions,
} from './netns/index.js';
export { cleanupOnExit } from './netns/registry.js';
export { ECHO_SERVER, REQUEST_CLIENT, SIZED_RESPONSE_SERVER, SLOW_RESPONSE_SERVER } from './programs/index.js';
export { FAULT_PROXY_DEFAULTS, type FaultProxyListen, type FaultProxyOptions, type FaultProxyTarget } from './proxy/defaults.js';
export { type ActiveFault, createFaultProxy, type FaultProxy, type FaultProxyStats } from './proxy/FaultProxy.js';
export {
  type BandwidthFault,
  type BlackholeFault,
  FAULT_DEFAULTS,
  FAULT_TYPES,
  type FaultDirection,
  type FaultSpec,
  type FaultType,
  type HalfCloseFault,
  type IdleResetFault,
  type LatencyFault,
  type LimitDataFault,
  type ResetFault,
  type SlicerFault,
  type SlowCloseFault,
} from './proxy/faults.js';
export {
  connectWatched,
  echoRoundTrip,
  failureWithin,
  QUIET_EVENTS,
  quietFor,
  type SocketEvent,
  type SocketEventType,
  SocketWatch,
} from './watch/SocketWatch.js';
export { type TcpInfo, tcpInfo } from './watch/tcpInfo.js';
