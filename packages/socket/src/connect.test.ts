import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeSelfSigned } from '../../../test/support/tlsCerts.js';
import { connect } from './connect.js';
import { guardOf } from './harden.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(srv: net.Server): Promise<number> {
  servers.push(srv);
  srv.on('connection', (s) => s.on('error', () => {}));
  srv.on('secureConnection', (s) => s.on('error', () => {}));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return (srv.address() as net.AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('connect()', () => {
  it('returns a connected, hardened socket', async () => {
    const port = await listen(net.createServer((s) => s.end('hi')));
    const s = await connect({ host: '127.0.0.1', port });
    expect(s.remotePort).toBe(port);
    expect(guardOf(s)?.applied.noDelay).toBe(true);
    expect(s.listenerCount('error')).toBe(0); // errors after connect are the caller's
    s.destroy();
  });

  it('reports errors of the established connection as BreakwaterErrors', async () => {
    const port = await listen(net.createServer((s) => setTimeout(() => s.resetAndDestroy(), 20)));
    const s = await connect({ host: '127.0.0.1', port });
    const err = await new Promise<Error>((r) => s.once('error', r));
    expect(err).toMatchObject({ code: 'BW_ERR_PEER_RESET', cause: expect.objectContaining({ code: 'ECONNRESET' }) });
  });

  it('maps a refused connection to BW_ERR_CONNECT_REFUSED with the address', async () => {
    const port = await closedPort();
    await expect(connect({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'BW_ERR_CONNECT_REFUSED',
      message: expect.stringContaining(`127.0.0.1:${port}`),
      details: expect.objectContaining({ phase: 'connect' }),
    });
  });

  it('tries the next address when one fails and uses the one that answers', async () => {
    const port = await listen(net.createServer((s) => s.destroy()));
    // 127.0.0.2 also lives on loopback but nothing listens there on this port.
    const s = await connect({ addresses: ['127.0.0.2', '127.0.0.1'], port });
    expect(s.remoteAddress).toBe('127.0.0.1');
    s.destroy();
  });

  it('resolves names through the injected lookup and races the addresses', async () => {
    const port = await listen(net.createServer());
    const looked: string[] = [];
    const s = await connect({
      host: 'db.example',
      port,
      lookup: async (h) => {
        looked.push(h);
        return [
          { address: '127.0.0.3', family: 4 },
          { address: '127.0.0.1', family: 4 },
        ];
      },
    });
    expect(looked).toEqual(['db.example']);
    expect(s.remoteAddress).toBe('127.0.0.1');
    s.destroy();
  });

  it('classifies DNS failures', async () => {
    await expect(
      connect({
        host: 'nope.invalid',
        port: 1,
        lookup: async () => {
          throw Object.assign(new Error('getaddrinfo ENOTFOUND nope.invalid'), { code: 'ENOTFOUND' });
        },
      }),
    ).rejects.toMatchObject({ code: 'BW_ERR_DNS' });
  });

  it('honours an AbortSignal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(connect({ host: '127.0.0.1', port: 1, signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
    const ac2 = new AbortController();
    const p = connect({ host: 'slow.example', port: 1, signal: ac2.signal, lookup: () => new Promise(() => {}) });
    ac2.abort();
    await expect(p).rejects.toMatchObject({ code: 'BW_ERR_ABORTED' });
  });

  it('times out the whole connect phase with BW_ERR_CONNECT_TIMEOUT', async () => {
    const started = performance.now();
    await expect(connect({ host: 'hang.example', port: 1, connectTimeoutMs: 200, lookup: () => new Promise(() => {}) })).rejects.toMatchObject({
      code: 'BW_ERR_CONNECT_TIMEOUT',
      hint: expect.stringMatching(/SYN/),
    });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('rejects bad options naming the key', async () => {
    await expect(connect({ port: 70_000 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'port' } });
    await expect(connect({ port: 1, connectTimeoutMs: 0 })).rejects.toMatchObject({ details: { key: 'connectTimeoutMs' } });
    await expect(connect({ port: 1, addresses: ['not-an-ip'] })).rejects.toMatchObject({ details: { key: 'addresses' } });
    await expect(connect({ port: 1, timeout: 5 } as never)).rejects.toThrow(/Unknown option `timeout`/);
    await expect(connect(undefined as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
  });
});

describe('connect() with TLS', () => {
  let key: string;
  let cert: string;
  let remove = () => {};
  beforeAll(() => {
    ({ key, cert, remove } = makeSelfSigned('breakwater.test', 'DNS:breakwater.test,IP:127.0.0.1'));
  });
  afterAll(() => remove());

  async function tlsServer(): Promise<number> {
    const srv = tls.createServer({ key, cert, ALPNProtocols: ['bw/1', 'http/1.1'] }, (s) => s.end(`alpn=${s.alpnProtocol}`));
    return listen(srv);
  }

  it('verifies certificates by default', async () => {
    const port = await tlsServer();
    await expect(connect({ host: '127.0.0.1', port, tls: true })).rejects.toMatchObject({ code: 'BW_ERR_TLS' });
  });

  it('connects with the CA, sends the servername and passes ALPN through', async () => {
    const port = await tlsServer();
    const s = (await connect({ host: '127.0.0.1', port, tls: { ca: cert, servername: 'breakwater.test', ALPNProtocols: ['bw/1'] } })) as tls.TLSSocket;
    expect(s.authorized).toBe(true);
    expect(s.alpnProtocol).toBe('bw/1');
    const body = await new Promise<string>((r) => {
      let acc = '';
      s.on('data', (d) => (acc += d)).on('end', () => r(acc));
    });
    expect(body).toBe('alpn=bw/1');
    expect(guardOf(s)).toBeUndefined(); // the guard sits on the TCP socket below
    s.destroy();
  });
});
