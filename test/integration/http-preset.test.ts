import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@breakwater/http';
import { resolvePreset } from '@breakwater/presets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue #16: a preset's numbers reach a real undici Agent. A server that accepts and never answers: the
// preset's per-attempt limit must cut each attempt, not the deadline.
let server: http.Server;
let origin: string;
const sockets = new Set<import('node:net').Socket>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/ok') res.end('ok');
    // else: never answer
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

async function timed(p: Promise<unknown>): Promise<{ ms: number; error: { code?: string } | undefined }> {
  const t = performance.now();
  const error = await p.then(
    () => undefined,
    (e: { code?: string }) => e,
  );
  return { ms: performance.now() - t, error };
}

describe('createClient({ preset }) on a real server', () => {
  it('answers through a preset client; the preset’s attempt timeout cuts a silent attempt, the deadline does not wait', async () => {
    // `direct` + overrides: a 3 s attempt (the connect timeout's floor), 2 attempts, a 20 s deadline.
    const preset = resolvePreset({ infra: 'direct', overrides: { http: { attemptTimeoutMs: 3_000, attempts: 2, deadlineMs: 20_000 } } });
    const client = createClient({ preset, attempts: 1 });
    try {
      const ok = await client.request(`${origin}/ok`);
      expect(await ok.body.text()).toBe('ok');
      const { ms, error } = await timed(client.request(`${origin}/silent`));
      expect(error?.code).toBeDefined();
      expect(error?.code).not.toBe('BW_ERR_DEADLINE');
      expect(ms).toBeGreaterThanOrEqual(2_900);
      expect(ms).toBeLessThan(6_000);
    } finally {
      await client.close();
    }
  }, 20_000);

  it('naive: the same spread without attemptTimeoutMs waits for the deadline', async () => {
    const client = createClient({ attempts: 1, deadlineMs: 1_500 });
    try {
      const { ms, error } = await timed(client.request(`${origin}/silent`));
      expect(error?.code).toBe('BW_ERR_DEADLINE');
      expect(ms).toBeGreaterThanOrEqual(1_400);
    } finally {
      await client.close();
    }
  }, 10_000);
});
