import { type ConnectOptions, connect as hardenedConnect } from '@breakwater/socket';
import { SocketWatch } from '../../packages/chaos/src/watch/index.js';

// The watch helpers live in @breakwater/chaos (shared with `breakwater scorecard`).
export {
  connectWatched as connect,
  echoRoundTrip,
  failureWithin,
  QUIET_EVENTS,
  quietFor,
  type SocketEvent,
  type SocketEventType,
  SocketWatch,
  type TcpInfo,
  tcpInfo,
} from '../../packages/chaos/src/watch/index.js';

/** A socket from `@breakwater/socket`'s connect(), watched like {@link connect}'s. */
export async function connectHardened(host: string, port: number, options: Omit<ConnectOptions, 'host' | 'port'> = {}): Promise<SocketWatch> {
  const socket = await hardenedConnect({ host, port, ...options });
  return new SocketWatch(socket);
}
