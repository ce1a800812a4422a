// Acknowledged delivery with @breakwater/ack: `await client.send(msg)` resolves only after the server's
// handler processed the message (a socket write only says the kernel took the bytes). The server is then
// restarted: the client reconnects on its own and a message sent while the server was down is delivered
// once it is back. Self-contained on 127.0.0.1.
import { setTimeout as delay } from 'node:timers/promises';
import { createAckClient, createAckServer } from '@breakwater/ack';
import { Deadline } from '@breakwater/core';

const processed = []; // what the handlers saw, on both servers

function startServer(name, port) {
  const server = createAckServer({
    // The ACK goes out after this resolves; a throw would NACK the message (isNack(err) at the sender).
    handler: async (payload, { id }) => {
      processed.push(`${name}:${payload.toString('utf8')}`);
      console.log(`  ${name} handled message ${id}: ${payload.toString('utf8')}`);
    },
  });
  return server.listen({ host: '127.0.0.1', port }).then((address) => ({ server, port: address.port }));
}

const first = await startServer('server-1', 0);
const client = createAckClient({ host: '127.0.0.1', port: first.port, reconnectBackoff: { baseDelayMs: 50, maxDelayMs: 200 } });
// `retransmitting`: messages accepted but not yet acknowledged, (re)sent on this connection with their ids.
client.on('connected', ({ retransmitting }) => console.log(`client connected, ${retransmitting} message(s) to (re)send`));
client.on('disconnected', ({ unacked, error }) => console.log(`client disconnected (${unacked} unacked, ${error?.code ?? 'closed by peer'})`));

let second;
try {
  for (const order of ['order-1', 'order-2', 'order-3']) {
    const ack = await client.send(order, { deadline: Deadline.after(2_000) });
    console.log(`acked ${order}: id ${ack.id}, ${ack.attempts} transmission(s)`);
  }

  console.log('restarting the server');
  await first.server.close(); // lets running handlers finish and ACK, then closes the connection
  // Sent while nothing listens: queued, kept, and delivered after the reconnect (the deadline still holds).
  const pending = client.send('order-4', { deadline: Deadline.after(5_000) });
  await delay(300);
  second = await startServer('server-2', first.port);
  const ack = await pending;
  console.log(`acked order-4 after the restart: ${ack.attempts} transmission(s), ${ack.elapsedMs >= 300 ? 'waited for the server' : 'at once'}`);

  console.log(`handled exactly once each: ${processed.join(', ')}`);
} finally {
  client.destroy();
  await second?.server.close();
}
