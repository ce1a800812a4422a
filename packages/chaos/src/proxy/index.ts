export { FAULT_PROXY_DEFAULTS, type FaultProxyListen, type FaultProxyOptions, type FaultProxyTarget } from './defaults.js';
export { type ActiveFault, createFaultProxy, type FaultProxy, type FaultProxyStats } from './FaultProxy.js';
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
} from './faults.js';
