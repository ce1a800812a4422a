export { type ConnectorOptions, hardenedConnector, isStaleSocketError } from './connector.js';
export { type CloseOptions, createClient, type HttpClient, type HttpFetchInit, type HttpRequestOptions, previewLayers } from './createClient.js';
export { defaultLayers, type StackContext } from './defaultLayers.js';
export { HTTP_DEFAULTS, type HttpClientOptions, type HttpPolicyOptions, type ResolvedHttpOptions, resolveHttpOptions } from './defaults.js';
export { BUILTIN_ROLES, type BuiltinRole, withoutLayers } from './layerRoles.js';
export type { DeadlineRequestOptions } from './layers/deadline.js';
export type { Controller, Dispatch, Handler, Interceptor, Layer } from './layers/types.js';
export type { OriginHandle, OriginRequestOptions } from './originHandle.js';
export {
  currentInbound,
  DEADLINE_HEADER,
  deadlineFrom,
  type InboundContext,
  type InboundRequestLike,
  inboundDeadline,
  isInternalHost,
  MAX_DEADLINE_HEADER_MS,
  type PropagateOption,
  parseDeadlineHeader,
  propagationHeaders,
  runWithInbound,
} from './propagate.js';
export type { HttpProxyOption } from './proxy.js';
export { type ResolvedAddress, type ResolveFn, Resolver, type ResolverOptions, systemResolve } from './Resolver.js';
export { HTTP_CHANNELS } from './telemetry.js';
export type { HttpTlsOptions } from './tls.js';
