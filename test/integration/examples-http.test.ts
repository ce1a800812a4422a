import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Runs against the compiled packages (the test command builds first), as a user runs it, so it cannot rot.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url);

describe('examples/http-msw', () => {
  it('mocks a @breakwater/http request with msw 3 socket-level interception, without touching the network', async () => {
    // `.test` never resolves and `onUnhandledFrame: 'error'` fails anything unmocked: a 200 can only come from msw.
    const { stdout, stderr } = await run(process.execPath, ['examples/http-msw/example.mjs'], { cwd: root, timeout: 30_000 });
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('GET https://api.example.test/users/1 -> 200 {"id":1,"name":"Ada Lovelace"}');
  }, 30_000);
});
