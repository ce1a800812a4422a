import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { BreakwaterError, classify, publisher, type TimerHandle, validateOptionsObject, validatePort, validateSignal, validateString } from '@breakwater/core';
import { type ResolvedSocketOptions, resolveSocketOptions, SOCKET_OPTION_KEYS, type SocketOptions } from './defaults.js';
import { harden } from './harden.js';

const publish = publisher('socket');

export interface ConnectOptions extends SocketOptions {
  /** Host name or IP address. @defaultValue 'localhost' */
  host?: string;
  port: number;
  /**
   * Skip DNS and race these addresses instead (IPv4 and IPv6 may be mixed).
   * @example ['198.18.0.2', '198.18.1.2']
   */
  addresses?: string[];
  /** Custom resolver, `dns.lookup`-shaped with `{ all: true }`. @defaultValue dns.lookup */
  lookup?: (hostname: string) => Promise<{ address: string; family: number }[]>;
  /**
   * `true` or TLS options (ca, cert, ALPNProtocols, …) to speak TLS after
   * the TCP handshake. Certificates are verified unless you pass
   * `rejectUnauthorized: false` yourself.
   * @defaultValue false
   */
  tls?: boolean | tls.ConnectionOptions;
  /** Cancels the whole connect phase. */
  signal?: AbortSignal;
}

const CONNECT_KEYS = [...SOCKET_OPTION_KEYS, 'host', 'port', 'addresses', 'lookup', 'tls', 'signal'];

/** Interleave families (RFC 8305 §4): v6, v4, v6, … starting with the first returned. */
function interleave(addrs: { address: string; family: number }[]): { address: string; family: number }[] {
  const first = addrs[0]?.family;
  const a = addrs.filter((x) => x.family === first);
  const b = addrs.filter((x) => x.family !== first);
  const out: { address: string; family: number }[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i]) out.push(a[i]!);
    if (b[i]) out.push(b[i]!);
  }
  return out;
}

async function resolveAddresses(host: string, opts: ConnectOptions): Promise<{ address: string; family: number }[]> {
  if (opts.addresses !== undefined) {
    if (!Array.isArray(opts.addresses) || opts.addresses.length === 0 || opts.addresses.some((a) => net.isIP(a) === 0)) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `addresses` to be a non-empty array of IP addresses', { details: { key: 'addresses' } });
    }
    return opts.addresses.map((address) => ({ address, family: net.isIP(address) }));
  }
  const family = net.isIP(host);
  if (family !== 0) return [{ address: host, family }];
  try {
    const found = opts.lookup ? await opts.lookup(host) : await dns.promises.lookup(host, { all: true, order: 'verbatim' });
    if (found.length === 0) throw Object.assign(new Error(`no addresses for ${host}`), { code: 'ENOTFOUND' });
    return interleave(found);
  } catch (err) {
    throw classify(err, { host, phase: 'connect' });
  }
}

/**
 * Errors of an established connection reach the caller as BreakwaterErrors
 * (ETIMEDOUT from keepalive or TCP_USER_TIMEOUT → BW_ERR_PEER_TIMEOUT, …),
 * with the original error as `cause`.
 */
function classifyErrorsOf(socket: net.Socket, host: string, port: number): void {
  const emit = socket.emit;
  socket.emit = function classifyingEmit(this: net.Socket, event: string | symbol, ...args: unknown[]) {
    if (event === 'error' && !(args[0] instanceof BreakwaterError)) args[0] = classify(args[0], { host, port, phase: 'request' });
    return (emit as (this: net.Socket, event: string | symbol, ...a: unknown[]) => boolean).call(this, event, ...args);
  } as net.Socket['emit'];
}

/**
 * Opens a hardened TCP (or TLS) connection. Every resolved address is tried,
 * racing like Happy Eyeballs: the next attempt starts when the previous one
 * has not connected within `attemptDelayMs` or failed. The whole phase —
 * DNS, attempts, TLS handshake — is bounded by `connectTimeoutMs`, so a
 * silent SYN drop ends in BW_ERR_CONNECT_TIMEOUT instead of a two-minute
 * hang (FM-05). The socket returned is hardened (see {@link harden}) and its
 * later errors are BreakwaterErrors (see `classify()`).
 *
 * @example
 * const socket = await connect({ host: 'db.internal', port: 5432, connectTimeoutMs: 2_000 });
 */
export async function connect(options: ConnectOptions): Promise<net.Socket | tls.TLSSocket> {
  const given = validateOptionsObject<ConnectOptions>(options, 'connect()', CONNECT_KEYS) as ConnectOptions;
  const port = validatePort(given.port);
  const host = given.host === undefined ? 'localhost' : validateString(given.host, 'host');
  const signal = validateSignal(given.signal);
  const socketOptions: SocketOptions = {};
  for (const k of SOCKET_OPTION_KEYS) if (given[k] !== undefined) (socketOptions as Record<string, unknown>)[k] = given[k];
  const o = resolveSocketOptions(socketOptions, 'connect()');
  const tlsOptions = given.tls === true ? {} : given.tls === false || given.tls === undefined ? undefined : given.tls;
  if (given.tls !== undefined && typeof given.tls !== 'boolean' && (typeof given.tls !== 'object' || given.tls === null)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `tls` to be a boolean or TLS options', { details: { key: 'tls' } });
  }
  signal?.throwIfAborted();

  const started = o.clock.now();
  const cleanup: (() => void)[] = [];
  try {
    return await new Promise<net.Socket | tls.TLSSocket>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const timer: TimerHandle = o.clock.setTimeout(() => {
        fail(
          new BreakwaterError(
            'BW_ERR_CONNECT_TIMEOUT',
            `connect to ${host}:${port} timed out after ${o.connectTimeoutMs} ms (${attempted.join(', ') || 'resolving'})`,
            {
              details: { host, port, connectTimeoutMs: o.connectTimeoutMs, attempted: [...attempted] },
            },
          ),
        );
      }, o.connectTimeoutMs);
      cleanup.push(() => o.clock.clearTimeout(timer));
      if (signal !== undefined) {
        const onAbort = () => fail(signal.reason instanceof BreakwaterError ? signal.reason : classify(signal.reason, { host, port, phase: 'connect' }));
        signal.addEventListener('abort', onAbort, { once: true });
        cleanup.push(() => signal.removeEventListener('abort', onAbort));
      }

      const attempted: string[] = [];
      const live = new Set<net.Socket>();
      cleanup.push(() => {
        for (const s of live) s.destroy();
      });

      const startAttempts = (addrs: { address: string; family: number }[]) => {
        let next = 0;
        let failures = 0;
        let lastError: unknown;
        let stagger: TimerHandle | undefined;
        cleanup.push(() => o.clock.clearTimeout(stagger));
        const launch = () => {
          o.clock.clearTimeout(stagger);
          if (settled || next >= addrs.length) return;
          const { address, family } = addrs[next++]!;
          attempted.push(address);
          const socket = new net.Socket({ allowHalfOpen: false });
          live.add(socket);
          harden(socket, o);
          const onError = (err: Error) => {
            live.delete(socket);
            failures++;
            lastError = classify(err, { host: address, port, phase: 'connect', elapsedMs: o.clock.now() - started });
            if (failures === addrs.length) fail(lastError);
            else launch(); // a fast failure starts the next address at once
          };
          socket.once('error', onError);
          socket.once('connect', () => {
            live.delete(socket);
            // From here on errors belong to the caller, never swallowed by us.
            socket.off('error', onError);
            if (settled) {
              socket.destroy();
              return;
            }
            publish('connected', { host, port, address, attempts: attempted.length, elapsedMs: o.clock.now() - started });
            classifyErrorsOf(socket, address, port);
            if (tlsOptions === undefined) {
              settled = true;
              resolve(socket);
            } else {
              upgrade(socket, address);
            }
          });
          socket.connect({ host: address, port, family });
          if (next < addrs.length) stagger = o.clock.setTimeout(launch, o.attemptDelayMs);
        };
        launch();
      };

      const upgrade = (raw: net.Socket, address: string) => {
        const servername = tlsOptions?.servername ?? (net.isIP(host) === 0 ? host : undefined);
        const secure = tls.connect({ ...tlsOptions, socket: raw, ...(servername === undefined ? {} : { servername }) });
        live.add(secure);
        const onError = (err: Error) => {
          live.delete(secure);
          raw.destroy();
          fail(classify(err, { host: address, port, phase: 'connect', elapsedMs: o.clock.now() - started }));
        };
        secure.once('error', onError);
        secure.once('secureConnect', () => {
          live.delete(secure);
          secure.off('error', onError);
          classifyErrorsOf(secure, address, port);
          if (settled) return secure.destroy();
          settled = true;
          resolve(secure);
        });
      };

      resolveAddresses(host, given).then(startAttempts, fail);
    });
  } finally {
    for (const fn of cleanup) fn();
  }
}

export type { ResolvedSocketOptions };
