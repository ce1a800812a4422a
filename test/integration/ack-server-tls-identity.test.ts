import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../packages/ack/src/index.js';
import { data, hello, hostileKit, sessionOf } from '../support/ackHostile.js';

// Issue 14, point 3: under TLS client certificates a session is bound to the
// certificate, so one client cannot poison another's session by sending its
// 16 session bytes. The control shows the poisoning without certificates.

const { cleanups, cleanup, serve } = hostileKit();
afterEach(cleanup);

describe('sessions bound to TLS client certificates', () => {
  it('another certificate naming the same session bytes cannot poison it; without client certificates it can (control)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-ack-mtls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
    for (const name of ['server', 'alice', 'mallory']) {
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      const ext = name === 'server' ? ['-extfile', 'san.ext'] : [];
      ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, ...ext);
    }
    const file = (f: string) => readFileSync(join(dir, f));
    const ca = file('ca.pem');

    async function run(requestCert: boolean) {
      const handled: string[] = [];
      const contexts: string[] = [];
      const { port } = await serve(
        (p: Buffer, c?: { session: string }) => {
          handled.push(p.toString());
          contexts.push(c?.session ?? '');
        },
        { tls: { key: file('server.key'), cert: file('server.pem'), ca, requestCert, rejectUnauthorized: requestCert } },
      );
      const connect = async (who: string) => {
        const socket = tls.connect({ port, host: '127.0.0.1', ca, key: file(`${who}.key`), cert: file(`${who}.pem`) });
        cleanups.push(() => socket.destroy());
        socket.on('error', () => {});
        await new Promise((r) => socket.once('secureConnect', r));
        const decoder = new FrameDecoder();
        const frames: { type: string }[] = [];
        socket.on('data', (c) => frames.push(...(decoder.push(c) as { type: string }[])));
        return { socket, frames };
      };
      const session = sessionOf(42); // mallory learned (or guessed) alice's session bytes
      const mallory = await connect('mallory');
      mallory.socket.write(Buffer.concat([hello(session), data(1_000, 1_000, Buffer.from('mallory'))]));
      await expect.poll(() => mallory.frames.length).toBe(2);
      const alice = await connect('alice');
      alice.socket.write(Buffer.concat([hello(session), data(1, 1, Buffer.from('alice-1'))]));
      await expect.poll(() => alice.frames.length).toBe(2);
      return { handled, contexts, aliceAcked: alice.frames[1]?.type === 'ack' };
    }

    const bound = await run(true);
    expect(bound.handled).toEqual(['mallory', 'alice-1']);
    expect(bound.contexts[0]).not.toBe(bound.contexts[1]);
    expect(bound.contexts[1]).toMatch(/^[0-9a-f]{64}\/(2a){16}$/);
    // Control: the same bytes without client certificates name one shared session; mallory's floor
    // makes the server acknowledge alice's message without ever running it.
    const shared = await run(false);
    expect(shared.aliceAcked).toBe(true);
    expect(shared.handled).toEqual(['mallory']);
  });
});
