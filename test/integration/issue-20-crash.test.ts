import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/servers/process.js';
import { makeSelfSigned } from '../support/tlsCerts.js';

// Issue 20: no input or peer may crash the process. Each error path undici reports before a request
// starts runs in a child process (which must not die) through createClient(), and must reach the caller
// as a rejected promise carrying the original error (as `cause`, or unchanged for the caller's own abort
// reason and undici's usage errors).
const child = fileURLToPath(new URL('./issue-20/crash-child.ts', import.meta.url));
let cert: string;
let key: string;
let remove = () => {};

beforeAll(() => {
  ({ certPath: cert, keyPath: key, remove } = makeSelfSigned('localhost'));
});
afterAll(() => remove());

function run(mode: 'breakwater' | 'naive', closedPort: number): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [child, mode, String(closedPort), cert, key], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ code, lines, stderr });
    });
  });
}

describe('issue 20: errors before a request starts never crash the process', () => {
  it('naive: a layer that reads controller.aborted on an early error kills the child (the harness sees a crash)', async () => {
    const r = await run('naive', await freePort());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot read properties of (undefined|null) \(reading 'aborted'\)/);
  });

  it('Breakwater: every path rejects with the original error as cause, and the child exits 0', async () => {
    const r = await run('breakwater', await freePort());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const byName = Object.fromEntries(r.lines.map((l) => [l.name, l]));
    expect(byName['refused by name']).toMatchObject({ rejected: true, code: 'BW_ERR_CONNECT_REFUSED', cause: 'ECONNREFUSED' });
    expect(byName['refused by address']).toMatchObject({ rejected: true, code: 'BW_ERR_CONNECT_REFUSED', cause: 'ECONNREFUSED' });
    // fetch: a TypeError('fetch failed') whose cause is the same BreakwaterError request() rejects with.
    expect(byName['refused by name (fetch)']).toMatchObject({ rejected: true, type: 'TypeError', cause: 'BW_ERR_CONNECT_REFUSED', causeCause: 'ECONNREFUSED' });
    expect(byName['TLS failure (self-signed)']).toMatchObject({ rejected: true, code: 'BW_ERR_TLS', cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    // undici's own usage errors reach the caller unchanged, as with a plain Agent.
    expect(byName['invalid header (CRLF)']).toMatchObject({ rejected: true, type: 'InvalidArgumentError', code: 'UND_ERR_INVALID_ARG' });
    expect(byName['invalid connection header']).toMatchObject({ rejected: true, type: 'InvalidArgumentError', code: 'UND_ERR_INVALID_ARG' });
    expect(byName['invalid option to an unknown name']).toMatchObject({ rejected: true, type: 'InvalidArgumentError', message: 'invalid reset' });
    // The caller's abort reason, unchanged.
    expect(byName['aborted before the call']).toMatchObject({ rejected: true, type: 'Error', message: 'custom reason' });
    expect(byName['aborted before connect']).toMatchObject({ rejected: true, type: 'Error', message: 'custom reason' });
    expect(byName['TLS to a plain-HTTP port']).toMatchObject({ rejected: true, code: 'BW_ERR_TLS', cause: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    expect(byName['DNS failure']).toMatchObject({ rejected: true, code: 'BW_ERR_DNS', cause: 'ENOTFOUND' });
    expect(byName['DNS failure (fetch)']).toMatchObject({ rejected: true, type: 'TypeError', cause: 'BW_ERR_DNS', causeCause: 'ENOTFOUND' });
    expect(byName['invalid URL']).toMatchObject({ rejected: true, type: 'TypeError', code: 'ERR_INVALID_URL' });
    expect(byName['invalid header (CRLF, fetch)']).toMatchObject({ rejected: true, type: 'TypeError' });
    expect(r.lines).toHaveLength(14);
  });
});
