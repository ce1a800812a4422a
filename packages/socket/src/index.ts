export { type Capabilities, capabilities, type Support } from './capabilities.js';
export { type ConnectOptions, connect } from './connect.js';
export { type ResolvedSocketOptions, resolveSocketOptions, SOCKET_DEFAULTS, type SocketOptions } from './defaults.js';
export { type AppliedOptions, guardOf, harden, type Mechanism, nativeUnavailableReason, type SocketGuard } from './harden.js';
export { StallWatchdog } from './StallWatchdog.js';
export { decodeTcpInfo, readTcpInfo, TCP_INFO_OFFSETS, type TcpInfo, tcpInfoUnavailableReason } from './tcpInfo.js';
export { writeMessage } from './writeMessage.js';
