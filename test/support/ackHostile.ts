import net from 'node:net';
import { type AckServer, createAckServer, encodeFrame, FrameDecoder } from '../../packages/ack/src/index.js';

/** Hostile-client helpers: a server and raw sockets speaking the frame format by hand, all closed by `cleanup()`. */
export function hostileKit() {
  const cleanups: (() => unknown)[] = [];
  async function cleanup() {
    for (const c of cleanups.splice(0).reverse()) await c();
  }
  async function serve(handler: (p: Buffer, context?: { session: string }) => unknown, options: Record<string, unknown> = {}) {
    const server = createAckServer({ handler, ...options }) as AckServer;
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    return { server, port };
  }
  /** A client socket speaking the wire format by hand (optionally from another loopback address: another peer). */
  async function raw(port: number, localAddress?: string) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    cleanups.push(() => socket.destroy());
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    const decoder = new FrameDecoder();
    const frames: { type: string; id?: number }[] = [];
    socket.on('data', (c) => {
      try {
        frames.push(...(decoder.push(c) as { type: string; id?: number }[]));
      } catch {}
    });
    let isClosed = false;
    const closed = new Promise<void>((r) =>
      socket.once('close', () => {
        isClosed = true;
        r();
      }),
    );
    return { socket, frames, closed, isClosed: () => isClosed };
  }
  return { cleanups, cleanup, serve, raw };
}

export const hello = (session: Buffer, window = 64) => encodeFrame({ type: 'hello', session, window });
export const data = (id: number, floor = 1, payload = Buffer.from('x')) => encodeFrame({ type: 'data', id, floor, payload });
export const sessionOf = (n: number) => Buffer.alloc(16, n);
