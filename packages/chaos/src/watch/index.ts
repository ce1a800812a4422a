export {
  connectWatched,
  echoRoundTrip,
  failureWithin,
  QUIET_EVENTS,
  quietFor,
  type SocketEvent,
  type SocketEventType,
  SocketWatch,
} from './SocketWatch.js';
export { type TcpInfo, tcpInfo } from './tcpInfo.js';
