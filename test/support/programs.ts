/**
 * Small Node programs the fault tests run inside namespaces through
 * `host.spawnNode()`. Each is an ES module; arguments arrive as
 * `process.argv.slice(1)`; the first JSON line it prints is `ready`.
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
 * FM-03's client: `host port count mode` where mode is `per-request` (a new
 * connection per request, the client closes first so TIME_WAIT lands on the
 * client's ports) or `reused` (all requests over one connection, closed with
 * a reset at the end so its port is free again). Every request asks for 4
 * bytes. Prints one JSON line: `{"ok":n,"errors":{"EADDRNOTAVAIL":n,…},"elapsedMs":n}`.
 */
export const REQUEST_CLIENT = `
import net from 'node:net';
const [host, portText, countText, mode] = process.argv.slice(1);
const port = Number(portText);
const count = Number(countText);
const started = performance.now();
const deadline = started + 30_000;
const result = { ok: 0, errors: {}, elapsedMs: 0 };
const fail = (code) => { result.errors[code] = (result.errors[code] ?? 0) + 1; };

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
      if (outcome === 'ok') result.ok++; else fail(outcome);
    }
    socket.resetAndDestroy();
  }
} else {
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const { socket, code } = await connect();
    if (socket === undefined) { fail(code); continue; }
    socket.on('error', () => {});
    const outcome = await request(socket);
    if (outcome === 'ok') result.ok++; else fail(outcome);
    // The client closes first: its end of the connection goes to TIME_WAIT for 60 s.
    await new Promise((resolve) => { socket.once('close', resolve); socket.end(); setTimeout(resolve, 2_000).unref(); });
  }
}
result.elapsedMs = Math.round(performance.now() - started);
console.log(JSON.stringify(result));
`;
