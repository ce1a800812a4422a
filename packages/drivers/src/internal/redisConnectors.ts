import net from 'node:net';
import tls from 'node:tls';
import { harden, type SocketOptions } from '@breakwater/socket';
import { AbstractConnector, type RedisOptions, SentinelConnector } from 'ioredis';

type NetStream = net.Socket | tls.TLSSocket;

/**
 * Hardens `stream` and keeps it hardened: ioredis fills `keepAlive: 30_000`
 * in whenever it is not a number and calls setKeepAlive(true, 30_000) on
 * connect, after harden() applied idle, interval and count; that call would
 * put the idle back to 30 s. Ours ran first; later ones are ignored.
 */
function hardenStream(stream: NetStream, socketOptions: SocketOptions, secure: boolean): NetStream {
  harden(stream, socketOptions);
  stream.once(secure ? 'secureConnect' : 'connect', () => {
    stream.setKeepAlive = function ignored(this: NetStream) {
      return this;
    } as NetStream['setKeepAlive'];
  });
  return stream;
}

/**
 * ioredis 6's standalone connector, with the stream hardened before ioredis
 * sees it. Options that need the file descriptor are applied on `connect`.
 * Also the connector of every Cluster node and of every connection to a
 * Sentinel.
 */
type ConnectorClass = new (options: unknown) => AbstractConnector;

export function hardenedConnector(socketOptions: SocketOptions): ConnectorClass {
  return class HardenedConnector extends AbstractConnector {
    private readonly options: RedisOptions;

    constructor(options: unknown) {
      const given = options as RedisOptions;
      super(given.disconnectTimeout ?? 2_000);
      this.options = given;
    }

    override connect(): Promise<NetStream> {
      const { options } = this;
      this.connecting = true;
      // Resolved on the next tick, as ioredis' own connector does, so its listeners attach first.
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) return reject(new Error('Connection is closed.'));
          const target = options.path
            ? { path: options.path }
            : { host: options.host ?? 'localhost', port: options.port ?? 6379, ...(options.family === undefined ? {} : { family: options.family }) };
          let stream: NetStream;
          try {
            stream = options.tls ? tls.connect({ ...target, ...options.tls }) : net.connect(target);
          } catch (error) {
            return reject(error);
          }
          this.stream = hardenStream(stream, socketOptions, Boolean(options.tls));
          stream.once('error', (err) => {
            this.firstError = err;
          });
          resolve(stream);
        });
      });
    }
  };
}

/**
 * ioredis' own SentinelConnector (a custom `Connector` replaces it, which
 * silently ignored `sentinels` before issue #15), with the master's or
 * replica's stream hardened as it is created, and every connection to a
 * Sentinel (the address lookup and the failover detector's subscriptions)
 * made through the hardened standalone connector.
 */
export function hardenedSentinelConnector(socketOptions: SocketOptions): ConnectorClass {
  const Standalone = hardenedConnector(socketOptions);
  const base = (SentinelConnector.prototype as unknown as { connectToSentinel(e: unknown, o?: Record<string, unknown>): unknown }).connectToSentinel;
  return class HardenedSentinelConnector extends SentinelConnector {
    constructor(options: unknown) {
      super(options as ConstructorParameters<typeof SentinelConnector>[0]);
      // A private method in ioredis' types: replaced on the instance.
      (this as unknown as { connectToSentinel: unknown }).connectToSentinel = (endpoint: unknown, given: Record<string, unknown> = {}) =>
        base.call(this, endpoint, { ...given, Connector: Standalone });
    }

    override async connect(eventEmitter: Parameters<SentinelConnector['connect']>[0]): Promise<NetStream> {
      const stream = await super.connect(eventEmitter);
      const o = (this as unknown as { options: { enableTLSForSentinelMode?: boolean; tls?: unknown } }).options;
      return hardenStream(stream, socketOptions, Boolean(o.enableTLSForSentinelMode && o.tls));
    }
  };
}
