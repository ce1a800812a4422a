/**
 * Small Node programs for the netns harness, run inside a namespace with
 * `host.spawnNode(SOURCE, args)`. Each is ES module source (only `node:`
 * imports), so the same text runs from a test, from `breakwater scorecard`
 * or from your own suite; arguments arrive as `process.argv.slice(1)` and
 * the first JSON line it prints is `ready`.
 */

/** Echoes every byte; prints `{"port":…}`. */
export const ECHO_SERVER = `
import net from 'node:net';
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/**
 * For every request line "N\n" writes N bytes back on the same connection;
 * ends its side when the client does (allowHalfOpen off), so the client
 * closes first. Prints `{"port":…}`.
 */
export const SIZED_RESPONSE_SERVER = `
import net from 'node:net';
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk;
    for (let nl = pending.indexOf('\\n'); nl !== -1; nl = pending.indexOf('\\n')) {
      const size = Number(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (Number.isInteger(size) && size >= 0 && size <= 16 * 1024 * 1024) socket.write(Buffer.alloc(size, 0x61));
    }
  });
});
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/**
 * FM-03's client: `host port count mode [batchSize]` where mode is
 * `per-request` (a new connection per request, the client closes first so
 * TIME_WAIT lands on the client's ports) or `reused` (all requests over one
 * connection, closed with a reset at the end so its port is free again).
 * Every request asks for 4 bytes; it stops after 30 s. Prints one JSON line:
 * `{"ok":n,"errors":{"EADDRNOTAVAIL":n,…},"batchErrors":[n,…],"elapsedMs":n}`,
 * `batchErrors` counting the failed requests of each `batchSize` (default 20).
 */
export const REQUEST_CLIENT = `
import net from 'node:net';
const [host, portText, countText, mode, batchText] = process.argv.slice(1);
const port = Number(portText);
const count = Number(countText);
const batchSize = Number(batchText ?? 20) || 20;
const started = performance.now();
const deadline = started + 30_000;
const result = { ok: 0, errors: {}, batchErrors: [], elapsedMs: 0 };
let settled = 0;
const nextBatch = () => {
  const batch = Math.floor(settled++ / batchSize);
  while (result.batchErrors.length <= batch) result.batchErrors.push(0);
  return batch;
};
const succeed = () => { nextBatch(); result.ok++; };
const fail = (code) => { result.batchErrors[nextBatch()]++; result.errors[code] = (result.errors[code] ?? 0) + 1; };

function request(socket) {
  return new Promise((resolve) => {
    let got = 0;
    const timer = setTimeout(() => finish('TIMEOUT'), 2_000);
    const onData = (chunk) => { got += chunk.length; if (got >= 4) finish('ok'); };
    const onError = (error) => finish(error.code ?? 'ERROR');
    const onClose = () => finish('CLOSED');
    function finish(outcome) {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      resolve(outcome);
    }
    socket.on('data', onData).on('error', onError).on('close', onClose);
    socket.write('4\\n');
  });
}

function connect() {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => { socket.removeAllListeners('error'); resolve({ socket }); });
    socket.once('error', (error) => resolve({ code: error.code ?? 'ERROR' }));
  });
}

if (mode === 'reused') {
  const { socket, code } = await connect();
  if (socket === undefined) fail(code);
  else {
    socket.on('error', () => {});
    for (let i = 0; i < count && performance.now() < deadline; i++) {
      const outcome = await request(socket);
      if (outcome === 'ok') succeed(); else fail(outcome);
    }
    socket.resetAndDestroy();
  }
} else {
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const { socket, code } = await connect();
    if (socket === undefined) { fail(code); continue; }
    socket.on('error', () => {});
    const outcome = await request(socket);
    if (outcome === 'ok') succeed(); else fail(outcome);
    // The client closes first: its end of the connection goes to TIME_WAIT for 60 s.
    await new Promise((resolve) => { socket.once('close', resolve); socket.end(); setTimeout(resolve, 2_000).unref(); });
  }
}
result.elapsedMs = Math.round(performance.now() - started);
console.log(JSON.stringify(result));
`;

/**
 * A busy but healthy backend: argv `thinkMs [chunkBytes gapMs]`. For each
 * request line "N\n" it waits `thinkMs`, then writes N bytes (≤ 16 MiB) in
 * chunks of `chunkBytes` (0 or absent: all at once) with `gapMs` between
 * them; requests on one connection are answered in order. The answer is slow
 * but complete: a twin that a defence must not take for a dead peer.
 * Prints `{"port":…}`.
 */
export const SLOW_RESPONSE_SERVER = `
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
const [thinkMs = 0, chunkBytes = 0, gapMs = 0] = process.argv.slice(1, 4).map((text) => Number(text) || 0);
async function answer(socket, size) {
  await sleep(thinkMs);
  const step = chunkBytes > 0 ? chunkBytes : size;
  for (let sent = 0; sent < size && socket.writable; sent += step) {
    if (sent > 0) await sleep(gapMs);
    socket.write(Buffer.alloc(Math.min(step, size - sent), 0x61));
  }
}
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  let pending = '';
  let queue = Promise.resolve();
  socket.on('data', (chunk) => {
    pending += chunk;
    for (let nl = pending.indexOf('\\n'); nl !== -1; nl = pending.indexOf('\\n')) {
      const size = Number(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (Number.isInteger(size) && size >= 0 && size <= 16 * 1024 * 1024) queue = queue.then(() => answer(socket, size));
    }
  });
});
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ port: server.address().port })));
`;
