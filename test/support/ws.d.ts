// The part of `ws` (a dev dependency for undici's WebSocket tests) our own tests use; no @types/ws needed.
declare module 'ws' {
  import type { Server } from 'node:http';
  export interface WebSocket {
    on(event: 'message', listener: (data: Buffer) => void): this;
    send(data: string): void;
  }
  export class WebSocketServer {
    constructor(options: { server: Server });
    on(event: 'connection', listener: (ws: WebSocket) => void): this;
    close(): void;
  }
}
