/**
 * The benches' HTTP server, run as its own process (bench/support/server.ts
 * spawns it) so the client under test has its CPU to itself and
 * `process.cpuUsage()` in the client counts only the client.
 *
 *   node bench/support/responder.ts [--mode canned|http] [--ports N] [--body-bytes N]
 *
 * - `canned` (default): raw `net`, keep-alive, answers every request with one
 *   precomputed response (200, `Content-Length`, 128 bytes). It finds the end
 *   of each request's head and skips a `Content-Length` body; chunked request
 *   bodies are refused (the connection is closed), the benches send none.
 * - `http`: a real `http.Server` doing the same, for a realistic server cost.
 *
 * Prints one JSON line `{"ports":[…]}` when listening on 127.0.0.1, then reads
 * commands, one per line on stdin, and answers each with one JSON line:
 * `hold` (keep every response from now on), `release` (send the held ones, stop
 * holding), `stats` (`{held, connections, requests}`), `drop` (close every
 * connection, server side). Exits when stdin closes, so it dies with its parent.
 */
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
};
const mode = arg('mode', 'canned');
const portCount = Number(arg('ports', '1'));
const bodyBytes = Number(arg('body-bytes', '128'));
if (mode !== 'canned' && mode !== 'http') throw new Error(`--mode must be canned or http, got ${mode}`);
if (!Number.isInteger(portCount) || portCount < 1 || portCount > 10_000) throw new Error(`--ports must be 1…10000, got ${portCount}`);

const BODY = Buffer.alloc(bodyBytes, 'x');
const RESPONSE = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bodyBytes}\r\nKeep-Alive: timeout=60\r\n\r\n`, 'latin1'),
  BODY,
]);
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

let holding = false;
/** One entry per held response: a way to send it. */
let held: (() => void)[] = [];
let requests = 0;
const open = new Set<net.Socket>();

function track(socket: net.Socket): void {
  open.add(socket);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.once('close', () => open.delete(socket));
}

/** Sends `n` canned responses in one write. */
function answer(socket: net.Socket, n: number): void {
  if (socket.destroyed) return;
  socket.write(n === 1 ? RESPONSE : Buffer.concat(Array.from({ length: n }, () => RESPONSE)));
}

function onCannedConnection(socket: net.Socket): void {
  track(socket);
  let pending: Buffer | undefined;
  let skip = 0; // request body bytes still to come
  socket.on('data', (chunk: Buffer) => {
    let buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let complete = 0;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        skip -= n;
        buf = buf.subarray(n);
        if (skip > 0) break;
      }
      const end = buf.indexOf(HEAD_END);
      if (end === -1) {
        if (buf.length > MAX_HEAD) socket.destroy();
        else if (buf.length > 0) pending = Buffer.from(buf);
        break;
      }
      const head = buf.toString('latin1', 0, end);
      if (/\r\ntransfer-encoding:/i.test(head)) {
        socket.destroy();
        return;
      }
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      skip = length === null ? 0 : Number(length[1]);
      buf = buf.subarray(end + 4);
      complete++;
    }
    requests += complete;
    if (complete === 0) return;
    if (!holding) answer(socket, complete);
    else for (let i = 0; i < complete; i++) held.push(() => answer(socket, 1));
  });
}

const httpServer =
  mode === 'http'
    ? http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
        requests++;
        req.resume();
        const send = () => {
          res.setHeader('Content-Type', 'application/octet-stream');
          res.end(BODY);
        };
        req.once('end', () => (holding ? held.push(send) : send()));
      })
    : undefined;
if (httpServer !== undefined) {
  httpServer.on('connection', track);
  // Held requests may wait longer than the defaults allow.
  httpServer.requestTimeout = 0;
  httpServer.headersTimeout = 0;
}

const listeners: net.Server[] = [];
const ports: number[] = [];
for (let i = 0; i < portCount; i++) {
  const server = httpServer !== undefined ? net.createServer((s) => httpServer.emit('connection', s)) : net.createServer(onCannedConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });
  listeners.push(server);
  ports.push((server.address() as net.AddressInfo).port);
}

const reply = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
reply({ ports });

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  switch (line.trim()) {
    case 'hold':
      holding = true;
      return reply({ ok: 'hold' });
    case 'release': {
      holding = false;
      const now = held;
      held = [];
      for (const send of now) send();
      return reply({ ok: 'release', released: now.length });
    }
    case 'stats':
      return reply({ held: held.length, connections: open.size, requests });
    case 'drop':
      for (const s of open) s.destroy();
      held = [];
      return reply({ ok: 'drop' });
    default:
      return reply({ error: `unknown command ${line}` });
  }
});
// The parent is gone (or done): nothing may outlive it.
lines.once('close', () => process.exit(0));
