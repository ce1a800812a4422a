import net from 'node:net';

export interface LineServerOptions {
  /** Close each connection after this long without a request, sending `goodbye` first (like MySQL's wait_timeout). */
  idleCloseMs?: number;
  goodbye?: string;
  /** Answer each request line; return undefined for no answer, 'RESET' to reset the connection. */
  answer?: (line: string) => string | undefined;
}

/**
 * A line protocol server on 127.0.0.1:0 for the pool's tests: `PING` → `PONG`,
 * `ECHO x` → `x`, `RESET` resets the connection, `CLOSE` ends it; anything else
 * is echoed back.
 */
export class LineServer {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  connections = 0;
  requests = 0;
  /** `performance.now()` of each idle close the server made. */
  readonly idleClosedAt: number[] = [];
  port = 0;
  readonly options: LineServerOptions;

  constructor(options: LineServerOptions = {}) {
    this.options = options;
    this.server = net.createServer((socket) => this.#accept(socket));
  }

  static async start(options?: LineServerOptions): Promise<LineServer> {
    const s = new LineServer(options);
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as net.AddressInfo).port;
    return s;
  }

  #accept(socket: net.Socket): void {
    this.connections++;
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      if (this.options.idleCloseMs === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.idleClosedAt.push(performance.now());
        socket.end(this.options.goodbye ?? '');
      }, this.options.idleCloseMs);
    };
    socket.on('close', () => clearTimeout(timer));
    arm();
    let pending = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        this.requests++;
        arm();
        const reply = this.options.answer?.(line) ?? defaultAnswer(line);
        if (reply === 'RESET') return void socket.resetAndDestroy();
        if (reply === 'CLOSE') return void socket.end();
        if (reply !== undefined) socket.write(`${reply}\n`);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function defaultAnswer(line: string): string | undefined {
  if (line === 'PING') return 'PONG';
  if (line === 'RESET' || line === 'CLOSE') return line;
  if (line.startsWith('ECHO ')) return line.slice(5);
  return line;
}

/** Sends one line and resolves with the reply line; rejects with the socket's error, or ECONNRESET when it closes first. */
export function exchange(conn: net.Socket, line: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer | string) => {
      buffered += String(chunk);
      const nl = buffered.indexOf('\n');
      if (nl !== -1) finish(undefined, buffered.slice(0, nl));
    };
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(Object.assign(new Error('connection closed before the reply'), { code: 'ECONNRESET' }));
    const onAbort = () => finish(signal?.reason as Error);
    function finish(err?: Error, reply?: string) {
      conn.off('data', onData).off('error', onError).off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(reply ?? '');
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('data', onData).on('error', onError).on('close', onClose);
    conn.write(`${line}\n`);
  });
}

/** A port on 127.0.0.1 where nothing listens. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Resolves when `predicate` holds, polling every few ms (real time), or rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 2_000, what = 'condition'): Promise<void> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
