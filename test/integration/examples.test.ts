import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Examples run against the compiled packages (the test command builds first),
// exactly as a user runs them, so they cannot rot.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const node = (file: string, env: Record<string, string> = {}) =>
  run(process.execPath, [file], { cwd: root, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '', ...env } });

describe('examples', () => {
  it('chaos-demo (`npm run demo:chaos`) shows each fault against plain Node and Breakwater', async () => {
    const { stdout } = await run(process.execPath, ['examples/chaos-demo/demo.mjs'], { cwd: root, timeout: 60_000 });
    expect(stdout).toMatch(/blackhole.*still waiting \(hang\).*BW_ERR_STALLED/);
    expect(stdout).toMatch(/reset \(RST\).*ECONNRESET.*BW_ERR_PEER_RESET/);
    if (process.getuid?.() === 0) expect(stdout).toMatch(/SYN drop.*still connecting \(hang\).*BW_ERR_CONNECT_TIMEOUT/);
  }, 60_000);

  it('http-client: GET retried past a 503, POST, fetch, a deadline and a refused connection as typed errors', async () => {
    const { stdout, stderr } = await node('examples/http-client/example.mjs');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/retry: attempt 2 in \d+ ms after HTTP 503\nGET \/items\/7 -> 200 \{"id":7,"stock":12\} \(the server saw 2 requests\)/);
    expect(stdout).toMatch(/POST \/orders -> 201 \{"accepted":\{"item":7,"quantity":2\}\}/);
    expect(stdout).toMatch(/fetch GET \/items\/7 -> 200/);
    expect(stdout).toMatch(/GET \/slow \(deadline 300 ms\) -> BW_ERR_DEADLINE after \d+ ms, retryable=false, attempts=1\n {2}hint: \S/);
    expect(stdout).toMatch(/\(nothing listens\) -> BW_ERR_CONNECT_REFUSED after \d+ ms, retryable=true, attempts=3\n {2}hint: \S/);
    // The deadline holds: 300 ms, not undici's 300 s headers timeout.
    const ms = Number(/BW_ERR_DEADLINE after (\d+) ms/.exec(stdout)?.[1]);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1_500);
  }, 30_000);

  it('presets: one preset per DEPLOY_TARGET, the server half applied, and impossible paths refused', async () => {
    const all = await node('examples/presets/example.mjs');
    expect(all.stderr).toBe('');
    expect(all.stdout).toMatch(/^aws: infra=aws-alb env=production\n {2}load balancer idle timeout 60000 ms/m);
    expect(all.stdout).toMatch(/server: keepAliveTimeout 5000 -> 65000 ms, headersTimeout 60000 -> 66000 ms/);
    expect(all.stdout).toMatch(/^kubernetes: infra=kubernetes env=production$/m);
    expect(all.stdout).toMatch(/^local: infra=direct env=development\n {2}load balancer idle timeout no limit/m);
    expect(all.stdout).toMatch(/impossible: BW_ERR_INVALID_OPTION \(http\.keepAliveTimeoutMs vs loadBalancer\.idleTimeoutMs\)\n.*at most 54000 ms/);
    expect(all.stdout).toMatch(/unknown: BW_ERR_INVALID_OPTION \(infra\)/);

    const one = await node('examples/presets/example.mjs', { DEPLOY_TARGET: 'kubernetes' });
    expect(one.stdout).toMatch(/^kubernetes: infra=kubernetes env=production$/m);
    expect(one.stdout).not.toMatch(/aws|local|impossible/);
  }, 30_000);

  it('ack: every send acknowledged after the handler ran, and a send during a server restart delivered after the reconnect', async () => {
    const { stdout, stderr } = await node('examples/ack/example.mjs');
    expect(stderr).toBe('');
    for (const order of ['order-1', 'order-2', 'order-3'])
      expect(stdout).toMatch(new RegExp(`handled message \\d+: ${order}\\nacked ${order}: id \\d+, 1 transmission`));
    expect(stdout).toMatch(/restarting the server\nclient disconnected/);
    expect(stdout).toMatch(/server-2 handled message \d+: order-4\nacked order-4 after the restart: \d+ transmission\(s\), waited for the server/);
    expect(stdout).toMatch(/handled exactly once each: server-1:order-1, server-1:order-2, server-1:order-3, server-2:order-4\n/);
  }, 30_000);

  it('chaos-testing: the user-code tests under blackhole and reset pass with node:test', async () => {
    const { stdout } = await node('examples/chaos-testing/quote-client.test.mjs');
    expect(stdout).toMatch(/BW_ERR_STALLED/);
    expect(stdout).toMatch(/pass 4/);
    expect(stdout).toMatch(/fail 0/);
  }, 30_000);
});
