import { BreakwaterError, classify, describe } from '@breakwater/core';
import type { SocketOptions } from '@breakwater/socket';
import { type Agent, type buildConnector, Client, type Dispatcher, EnvHttpProxyAgent, Pool, ProxyAgent } from 'undici';
import { adoptSockets } from './connector.js';
import { type HttpTlsOptions, resolveTlsOptions } from './tls.js';

/**
 * Where requests go through an HTTP proxy: a URL (`http://user:pass@proxy:3128`, credentials in the URL
 * or as `token`), or `'env'`: `HTTP_PROXY`/`HTTPS_PROXY` (lower case first) read at `createClient()`,
 * `NO_PROXY` honoured per request, as undici's `EnvHttpProxyAgent` does.
 * @example 'http://proxy.internal:3128'
 */
export type HttpProxyOption = string | URL | 'env' | { uri: string | URL; token?: string; tls?: HttpTlsOptions };

export interface ResolvedProxy {
  /** `url`: every request through the proxy; `env`: the proxy for the request's scheme unless NO_PROXY names its host. */
  mode: 'url' | 'env';
  /** Proxy for `http:` origins (undefined: none). */
  http: URL | undefined;
  /** Proxy for `https:` origins (undefined: none). */
  https: URL | undefined;
  /** `Proxy-Authorization` value, e.g. `Bearer …`, when not in the URL. */
  token: string | undefined;
  /** TLS to an `https://` proxy itself (the origin's is `tls`). */
  tls: HttpTlsOptions | undefined;
}

/** The proxy's name for messages and `details.proxy`: scheme, host and port, never its credentials. */
export function proxyName(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

function parseProxyUrl(value: unknown, key: string): URL {
  let u: URL | undefined;
  try {
    u = value instanceof URL ? value : typeof value === 'string' ? new URL(value) : undefined;
  } catch {}
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    // Never echo the value: it may hold a password.
    const shown = u === undefined ? (typeof value === 'string' ? 'a string that is not a URL' : describe(value)) : `a ${u.protocol} URL`;
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`${key}\` to be an http:// or https:// proxy URL (like http://proxy:3128), 'env', or { uri, token?, tls? }, got ${shown}`,
      {
        details: { key },
      },
    );
  }
  return u;
}

/** Validates `proxy`. `'env'` with neither variable set resolves to undefined: no proxy, the full stack. */
export function resolveProxyOption(value: unknown, env: NodeJS.ProcessEnv = process.env): ResolvedProxy | undefined {
  if (value === undefined) return undefined;
  if (value === 'env') {
    const http = env.http_proxy ?? env.HTTP_PROXY;
    const https = env.https_proxy ?? env.HTTPS_PROXY;
    if (!http && !https) return undefined;
    const httpUrl = http ? parseProxyUrl(http, 'proxy (HTTP_PROXY)') : undefined;
    // As undici: without HTTPS_PROXY, https: origins use the HTTP proxy.
    const httpsUrl = https ? parseProxyUrl(https, 'proxy (HTTPS_PROXY)') : httpUrl;
    return { mode: 'env', http: httpUrl, https: httpsUrl, token: undefined, tls: undefined };
  }
  if (typeof value === 'object' && value !== null && !(value instanceof URL)) {
    const { uri, token, tls, ...rest } = value as { uri?: unknown; token?: unknown; tls?: unknown };
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Unknown option \`proxy.${unknown}\` (expected uri, token, tls)`, {
        details: { key: `proxy.${unknown}` },
      });
    }
    if (token !== undefined && (typeof token !== 'string' || token === '')) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `proxy.token` to be a Proxy-Authorization value like "Bearer …"', {
        details: { key: 'proxy.token' },
      });
    }
    const u = parseProxyUrl(uri, 'proxy.uri');
    return { mode: 'url', http: u, https: u, token, tls: resolveTlsOptions(tls) };
  }
  const u = parseProxyUrl(value, 'proxy');
  return { mode: 'url', http: u, https: u, token: undefined, tls: undefined };
}

/** A failure between us and the origin's tunnel, named after the proxy (the origin's own TLS errors pass through). */
function proxyError(err: Error, proxy: URL, origin: string): Error {
  if (err instanceof BreakwaterError) return err;
  const code = (err as { code?: unknown }).code;
  const name = proxyName(proxy);
  const status = /Proxy response \((\d+)\)/.exec(err.message)?.[1];
  if (status !== undefined) {
    const statusCode = Number(status);
    return new BreakwaterError('BW_ERR_PROXY', `proxy ${name} answered ${statusCode} to CONNECT ${origin}`, {
      cause: err,
      retryable: statusCode >= 500,
      details: { proxy: name, statusCode, origin, phase: 'connect' },
    });
  }
  // The origin's certificate, checked through the tunnel: the origin's problem, classified as such later.
  if (typeof code === 'string' && /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)) return err;
  const inner = code === 'UND_ERR_PRX_CONN' || code === 'UND_ERR_PRX_TLS' ? ((err as { cause?: unknown }).cause ?? err) : err;
  const c = classify(inner, { host: proxy.hostname, port: Number(proxy.port) || (proxy.protocol === 'https:' ? 443 : 80), phase: 'connect' });
  if (c.code === 'BW_ERR_TLS') return new BreakwaterError('BW_ERR_TLS', `proxy ${name}: ${c.message}`, { cause: err, details: { ...c.details, proxy: name } });
  return new BreakwaterError('BW_ERR_PROXY', `proxy ${name} failed while opening ${origin}: ${c.message}`, {
    cause: err,
    retryable: c.retryable,
    details: { ...c.details, proxy: name, origin, proxyCode: c.code },
  });
}

export interface ProxyDispatcherOptions {
  /** The options of the Agent this replaces (connections, timeouts, allowH2, and `connect` for NO_PROXY hosts). */
  agent: Agent.Options & { connect: buildConnector.connector };
  connectTimeoutMs: number;
  socket: SocketOptions;
  /** TLS to origins (through the tunnel). */
  requestTls: Record<string, unknown>;
}

/**
 * undici's `ProxyAgent` (or `EnvHttpProxyAgent`) with Breakwater's sockets: every socket to the proxy is
 * hardened (clientFactory), origin connections through it are tagged like direct ones, and failures name
 * the proxy (`BW_ERR_PROXY`). HTTPS origins go through CONNECT with `requestTls`; HTTP origins are sent to
 * the proxy as absolute-URI requests (undici's default).
 */
export function createProxyDispatcher(p: ResolvedProxy, o: ProxyDispatcherOptions): Dispatcher {
  const proxies = [p.http, p.https].filter((u): u is URL => u !== undefined);
  const isProxy = (origin: string) => proxies.some((u) => u.origin === new URL(origin).origin);
  const proxyFor = (origin: string) => (new URL(origin).protocol === 'https:' ? p.https : p.http) ?? proxies[0]!;
  const pool = (origin: string | URL, opts: object) =>
    (opts as { connections?: number }).connections === 1 ? new Client(origin, opts) : new Pool(origin, opts);
  const options = {
    ...o.agent,
    connectTimeout: o.connectTimeoutMs,
    requestTls: o.requestTls,
    ...(p.tls === undefined ? {} : { proxyTls: p.tls }),
    ...(p.token === undefined ? {} : { token: p.token }),
    // The pool that sends CONNECT: its sockets go to the proxy, so they are the ones to harden.
    clientFactory: (url: URL, opts: { connect: buildConnector.connector }) =>
      new Pool(url, { ...opts, connect: adoptSockets(opts.connect, { socket: o.socket, onConnectError: (e) => proxyError(e, url, '(tunnel)') }) }),
    factory: (origin: string | URL, opts: { connect?: unknown }) => {
      const key = String(origin);
      // NO_PROXY hosts (env mode): the plain Agent's pools, already on hardenedConnector.
      if (opts.connect === o.agent.connect || typeof opts.connect !== 'function') return pool(origin, opts);
      const connect = opts.connect as buildConnector.connector;
      // Forward proxying of http: origins: this pool talks to the proxy itself.
      if (isProxy(key))
        return pool(origin, { ...opts, connect: adoptSockets(connect, { socket: o.socket, onConnectError: (e) => proxyError(e, new URL(key), key) }) });
      // An origin behind a CONNECT tunnel: the socket under it is already hardened.
      return pool(origin, { ...opts, connect: adoptSockets(connect, { onConnectError: (e) => proxyError(e, proxyFor(key), new URL(key).origin) }) });
    },
  };
  if (p.mode === 'env') return new EnvHttpProxyAgent({ ...options, httpProxy: p.http?.href ?? '', httpsProxy: p.https?.href ?? '' } as never);
  return new ProxyAgent({ ...options, uri: p.http!.href } as never);
}
