// `npm run demo:chaos`: a few real faults, injected by @breakwater/chaos,
// against a plain `net.Socket` and against a socket from @breakwater/socket.
// Runs in about half a minute; the kernel-level part needs root on Linux.
import net from 'node:net';
import { createFaultProxy, createTopology, netnsSupport } from '@breakwater/chaos';
import { connect } from '@breakwater/socket';

const WAIT_MS = 3_000; // how long the naive side is watched before we call it a hang
const rows = [];

function echoServer(host = '127.0.0.1') {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.write(d));
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

/** Writes a request and reports what happened within `limitMs`. */
function exchange(socket, limitMs) {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, ms: performance.now() - started });
    };
    const timer = setTimeout(() => done('still waiting (hang)'), limitMs);
    socket.once('data', () => done('answered'));
    socket.once('error', (err) => done(err.code ?? err.message));
    socket.once('close', () => done('closed'));
    socket.write('ping\n'); // queued until connected
  });
}

async function proxyScenario(name, faults, hardenedOptions) {
  const server = await echoServer();
  const proxy = await createFaultProxy({ target: { port: server.address().port }, faults, seed: 42 });
  try {
    const naive = net.connect(proxy.port, '127.0.0.1');
    const n = await exchange(naive, WAIT_MS);
    const started = performance.now();
    const b = await connect({ host: '127.0.0.1', port: proxy.port, ...hardenedOptions }).then(
      (hardened) => exchange(hardened, WAIT_MS),
      (err) => ({ outcome: err.code, ms: performance.now() - started }),
    );
    rows.push([name, n, b]);
  } finally {
    await proxy.close();
    server.close();
  }
}

async function synDropScenario() {
  const topology = await createTopology();
  try {
    const server = topology.server.spawnNode(
      `import net from 'node:net'; const s = net.createServer(() => {}).listen(0, () => console.log(JSON.stringify({ port: s.address().port })));`,
    );
    const { port } = await server.ready;
    await topology.server.nft.dropSyn(port);
    const naive = net.connect(port, topology.server.address);
    naive.on('error', () => {});
    const started = performance.now();
    const n = await new Promise((resolve) => {
      const t = setTimeout(() => resolve({ outcome: 'still connecting (hang)', ms: performance.now() - started }), WAIT_MS);
      naive.once('connect', () => {
        clearTimeout(t);
        resolve({ outcome: 'connected', ms: performance.now() - started });
      });
    });
    naive.destroy();
    const t0 = performance.now();
    const b = await connect({ host: topology.server.address, port, connectTimeoutMs: 1_000 }).then(
      (s) => {
        s.destroy();
        return { outcome: 'connected', ms: performance.now() - t0 };
      },
      (err) => ({ outcome: err.code, ms: performance.now() - t0 }),
    );
    rows.push(['SYN drop (nftables, netns)', n, b]);
  } finally {
    await topology.dispose();
  }
}

console.log('Breakwater chaos demo: plain net.Socket vs @breakwater/socket\n');
await proxyScenario('latency 200 ms', [{ type: 'latency', latencyMs: 200 }], {});
await proxyScenario('blackhole (nothing forwarded)', [{ type: 'blackhole' }], { stallTimeoutMs: 1_000 });
await proxyScenario('reset (RST)', [{ type: 'reset' }], {});
const support = netnsSupport();
if (support.available) await synDropScenario();
else console.log(`(skipping the kernel-level SYN-drop scenario: ${support.reason})\n`);

const fmt = ({ outcome, ms }) => `${outcome} after ${Math.round(ms)} ms`.padEnd(44);
console.log(`${'fault'.padEnd(32)}${'plain net.Socket'.padEnd(44)}Breakwater`);
for (const [name, n, b] of rows) console.log(`${name.padEnd(32)}${fmt(n)}${fmt(b)}`);
console.log('\nEvery fault above is also a test: see test/faults/ and docs/failure-modes.md.');
