import type net from 'node:net';
import { harden, SOCKET_DEFAULTS, type SocketOptions } from '@breakwater/socket';
import { buildConnector } from 'undici';
import type { LookupFunction } from './internal/lookup.js';
import { kReused } from './internal/symbols.js';
import { type HttpTlsOptions, resolveTlsOptions, warnVerificationSkipped } from './tls.js';

export interface ConnectorOptions {
  /** TCP and TLS connect timeout, in ms. @defaultValue 3_000 (SOCKET_DEFAULTS.connectTimeoutMs) */
  connectTimeoutMs?: number;
  /** Offer h2 in ALPN. @defaultValue false */
  allowH2?: boolean;
  /** Socket hardening (@breakwater/socket) applied to each connection. @defaultValue SOCKET_DEFAULTS */
  socket?: SocketOptions;
  /** tls.ConnectionOptions for HTTPS connections (a private CA, a client certificate…). Validated like createClient()'s. */
  tls?: HttpTlsOptions;
  /** Accept any certificate. Named to be seen in review; prefer `tls.ca`. @defaultValue false */
  dangerouslySkipTlsVerification?: boolean;
  /**
   * How each connection turns the origin's name into an address (`net.connect()`'s `lookup`), e.g. one
   * that asks a Breakwater `Resolver`. The socket still connects to the name. @defaultValue dns.lookup
   */
  lookup?: LookupFunction;
}

/**
 * undici's own connector (connect timeout, TLS sessions, ALPN, TCP_NODELAY)
 * with every socket hardened by @breakwater/socket in its callback. A custom
 * `connect` function would lose undici's connect timeout and keepalive, so we
 * wrap instead of replacing. Socket errors are tagged with whether the
 * socket had already carried an exchange: a reset on a *reused* connection
 * before any response byte is the stale keep-alive race (FM-07), safe to
 * resend once on a fresh connection.
 */
export function hardenedConnector(o: ConnectorOptions = {}): buildConnector.connector {
  return hardenedConnectors(o)(o.lookup);
}

/**
 * `hardenedConnector()` per `lookup`: TLS options checked and the insecure warning said once, one undici
 * connector (and TLS session cache) per lookup. createClient() gives each connection pool its own lookup.
 */
export function hardenedConnectors(o: Omit<ConnectorOptions, 'lookup'>): (lookup: LookupFunction | undefined) => buildConnector.connector {
  const tlsOptions = resolveTlsOptions(o.tls) ?? {};
  if (o.dangerouslySkipTlsVerification === true) warnVerificationSkipped();
  const base = {
    ...tlsOptions,
    ...(o.dangerouslySkipTlsVerification === true ? { rejectUnauthorized: false } : {}),
    timeout: o.connectTimeoutMs ?? SOCKET_DEFAULTS.connectTimeoutMs,
    allowH2: o.allowH2 ?? false,
  };
  const socketOptions = o.socket ?? {};
  // undici sets SNI to the origin's name; a `tls.servername` the user chose (a certificate's name for a
  // host called by address or alias) wins over it.
  const servername = tlsOptions.servername;
  return (lookup) => {
    const connect = buildConnector({ ...base, ...(lookup === undefined ? {} : { lookup }) } as buildConnector.BuildOptions);
    const adopted = adoptSockets(connect, { socket: socketOptions });
    return servername === undefined ? adopted : (options, callback) => adopted(options.protocol !== 'https:' ? options : { ...options, servername }, callback);
  };
}

/**
 * Wraps any undici connector: each socket it makes is hardened (when `socket` is given) and its errors are
 * tagged for the layers above (reused or not, a TLS alert kept as the cause of "other side closed");
 * a failure to connect may be mapped by `onConnectError` (the proxy wraps its errors so they name it).
 */
export function adoptSockets(
  connect: buildConnector.connector,
  o: { socket?: SocketOptions | undefined; onConnectError?: (err: Error) => Error },
): buildConnector.connector {
  const socketOptions = o.socket === undefined ? undefined : httpSocketOptions(o.socket);
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (err !== null || socket === null) {
        callback(err !== null && o.onConnectError !== undefined ? o.onConnectError(err) : err, null);
        return;
      }
      const s = socket as net.Socket;
      // msw's socket-level interceptor hands out sockets without an fd: harden() then
      // skips what needs one, but must never make a request fail.
      if (socketOptions !== undefined) {
        try {
          harden(s, socketOptions);
        } catch {}
      }
      s.prependListener('error', tagSocketError);
      callback(null, socket);
    });
}

const forHttp = new WeakMap<SocketOptions, Readonly<SocketOptions>>();

/**
 * HTTP waits for a thinking server under its headers timeout and deadline: the watchdog guards only our
 * bytes (unacknowledged, TCP_INFO) unless the caller asks for the raw-protocol rule. Taken when the
 * connector is made, frozen and shared by its pools (one per origin), so harden() resolves it once.
 */
function httpSocketOptions(given: SocketOptions): Readonly<SocketOptions> {
  const cached = forHttp.get(given);
  if (cached !== undefined) return cached;
  const o = Object.freeze({ ...given, expectResponseAfterWrite: given.expectResponseAfterWrite ?? false });
  forHttp.set(given, o);
  return o;
}

const kTlsAlert = Symbol('breakwater.http.tlsAlert');

/** One listener shared by every adopted socket (`this`): no closure per connection. */
function tagSocketError(this: net.Socket & { [kTlsAlert]?: Error }, e: unknown): void {
  if (typeof e !== 'object' || e === null || !Object.isExtensible(e)) return;
  (e as Record<symbol, boolean>)[kReused] = this.bytesRead > 0;
  // A TLS alert after the handshake (TLS 1.3's "certificate required") is followed by the peer's
  // FIN, and undici reports only "other side closed": keep the alert as that error's cause, so
  // classify() says BW_ERR_TLS and names the fix.
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))) this[kTlsAlert] = e as Error;
  else if (code === 'UND_ERR_SOCKET' && this[kTlsAlert] !== undefined && (e as { cause?: unknown }).cause === undefined)
    (e as { cause?: unknown }).cause = this[kTlsAlert];
}

/** Whether `err` is a stale-socket failure: the peer closed a reused idle connection. */
export function isStaleSocketError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; socket?: { bytesRead?: number }; [kReused]?: boolean };
  if (e.code === 'UND_ERR_SOCKET') return (e.socket?.bytesRead ?? 0) > 0 || e[kReused] === true;
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return e[kReused] === true;
  return false;
}
