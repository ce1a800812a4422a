import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@breakwater/http';
import { EventSource, WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';

// Issue 20, "must show": what a new user does first works through the client: response headers through
// client.fetch(), a redirect chain, a WebSocket and an EventSource on the client's dispatcher.

let server: http.Server;
let wss: WebSocketServer;
let base: string;
const client = createClient();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/json') {
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.setHeader('x-custom', 'yes');
      res.end('{"ok":true}');
    } else if (req.url?.startsWith('/hop/')) {
      const n = Number(req.url.slice(5));
      res.writeHead(n === 0 ? 200 : n % 2 === 0 ? 302 : 307, n === 0 ? {} : { location: `/hop/${n - 1}` });
      res.end(n === 0 ? 'arrived' : '');
    } else if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('retry: 50\ndata: hello\n\n');
    } else res.writeHead(404).end();
  });
  wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://localhost:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await client.close();
  wss.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('issue 20: client.fetch() and the client dispatcher behave like undici', () => {
  it('client.fetch() returns content-type, set-cookie and a custom header', async () => {
    const r = await client.fetch(`${base}/json`);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(r.headers.get('x-custom')).toBe('yes');
    expect(await r.json()).toEqual({ ok: true });
  });

  it('client.fetch() follows a redirect chain; manual and error behave as specified', async () => {
    const r = await client.fetch(`${base}/hop/4`);
    expect(r.status).toBe(200);
    expect(r.redirected).toBe(true);
    expect(r.url).toBe(`${base}/hop/0`);
    expect(await r.text()).toBe('arrived');
    const manual = await client.fetch(`${base}/hop/2`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('/hop/1');
    await manual.text();
    await expect(client.fetch(`${base}/hop/2`, { redirect: 'error' })).rejects.toThrow(TypeError);
  });

  it('opens a WebSocket through the client dispatcher and exchanges messages', async () => {
    const ws = new WebSocket(base.replace('http', 'ws'), { dispatcher: client.dispatcher });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('ping');
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = (e) => reject(new Error(String((e as { message?: string }).message)));
    });
    expect(reply).toBe('echo ping');
    ws.close();
  });

  it('opens an EventSource through the client dispatcher, and it reconnects', async () => {
    const es = new EventSource(`${base}/events`, { dispatcher: client.dispatcher });
    const messages: string[] = [];
    let opened = 0;
    await new Promise<void>((resolve) => {
      es.onopen = () => {
        if (++opened === 2) resolve();
      };
      es.onmessage = (e) => messages.push(String(e.data));
    });
    es.close();
    expect(messages[0]).toBe('hello');
    expect(opened).toBe(2);
  });
});
