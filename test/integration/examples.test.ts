import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Examples run against the compiled packages (the test command builds first),
// exactly as a user runs them, so they cannot rot.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url);

describe('examples', () => {
  it('chaos-demo (the Quick start demo) shows each fault against plain Node and Breakwater', async () => {
    const { stdout } = await run(process.execPath, ['examples/chaos-demo/demo.mjs'], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/blackhole.*still waiting \(hang\).*BW_ERR_STALLED/);
    expect(stdout).toMatch(/reset \(RST\).*ECONNRESET.*BW_ERR_PEER_RESET/);
    if (process.getuid?.() === 0) expect(stdout).toMatch(/SYN drop.*still connecting \(hang\).*BW_ERR_CONNECT_TIMEOUT/);
  }, 60_000);
});
