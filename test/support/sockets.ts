import { type ConnectOptions, connect as hardenedConnect } from '@breakwater/socket';
import { SocketWatch } from '../../packages/chaos/src/watch/SocketWatch.js';

// The watch helpers live in @breakwater/chaos (shared with `breakwater scorecard`).
export * from '../../packages/chaos/src/watch/SocketWatch.js';
export { connectWatched as connect } from '../../packages/chaos/src/watch/SocketWatch.js';
export * from '../../packages/chaos/src/watch/tcpInfo.js';

/** A socket from `@breakwater/socket`'s connect(), watched like {@link connect}'s. */
export async function connectHardened(host: string, port: number, options: Omit<ConnectOptions, 'host' | 'port'> = {}): Promise<SocketWatch> {
  const socket = await hardenedConnect({ host, port, ...options });
  return new SocketWatch(socket);
}
