/**
 * Acknowledged messages per second through @breakwater/ack (256 B payloads,
 * window 64) against raw framed writes without acknowledgements, in the same
 * process over loopback. A script, not a test:
 *
 *   scripts/bw node --import ./test/support/ts-hooks.ts bench/ack/throughput.ts [messages] [rounds]
 *
 * Raw: the same DATA frames written back to back, corked 64 at a time
 * (honouring write()/drain),
 * timed until a server decoding them with FrameDecoder has counted them all.
 * Acked: `send()` from 256 concurrent producers, timed until every promise
 * resolved (the server's handler ran and its ACK came back). The ratio is
 * taken per round and the median printed; issue #18's goal is ≥ 0.6× (docs/benchmarks.md).
 */
import net from 'node:net';
import { createAckClient, createAckServer, FrameDecoder } from '@breakwater/ack';
import { encodeData } from '../../packages/ack/src/frames.js';

const MESSAGES = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const PAYLOAD = Buffer.alloc(256, 0x61);

async function raw(): Promise<number> {
  let counted = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = net.createServer((s) => {
    const decoder = new FrameDecoder();
    s.on('data', (c) => {
      counted += decoder.push(c).length;
      if (counted === MESSAGES) done();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  const started = performance.now();
  // Corked in batches of 64, as the ack client writes a window: the fastest fair baseline.
  for (let id = 1; id <= MESSAGES; ) {
    socket.cork();
    let ok = true;
    for (const end = Math.min(MESSAGES, id + 63); id <= end; id++) ok = socket.write(encodeData(id, id, PAYLOAD));
    socket.uncork();
    if (!ok) await new Promise((r) => socket.once('drain', r));
  }
  await finished;
  const elapsed = performance.now() - started;
  socket.destroy();
  await new Promise((r) => server.close(r));
  return (MESSAGES / elapsed) * 1000;
}

async function acked(): Promise<number> {
  const server = createAckServer({ handler: () => {} });
  const { port } = await server.listen();
  const client = createAckClient({ port, maxInFlight: 64 });
  await new Promise((r) => client.once('connected', r));
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < MESSAGES) {
        next++;
        await client.send(PAYLOAD);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await client.close();
  await server.close();
  return (MESSAGES / elapsed) * 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { raw: number; acked: number; ratio: number }[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const r = await raw();
  const a = await acked();
  rows.push({ raw: r, acked: a, ratio: a / r });
  console.log(
    `round ${round + 1}: raw ${Math.round(r).toLocaleString('en')} msg/s, acked ${Math.round(a).toLocaleString('en')} msg/s, ratio ${(a / r).toFixed(2)}×`,
  );
}
const result = {
  messages: MESSAGES,
  payloadBytes: PAYLOAD.length,
  window: 64,
  rawPerSecond: Math.round(median(rows.map((x) => x.raw))),
  ackedPerSecond: Math.round(median(rows.map((x) => x.acked))),
  medianRatio: Number(median(rows.map((x) => x.ratio)).toFixed(2)),
  node: process.version,
};
console.log(JSON.stringify(result));
