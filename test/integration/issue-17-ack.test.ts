import { afterEach, describe, expect, it } from 'vitest';
import { type AckClient, type AckClientOptions, type AckServer, createAckClient, createAckServer } from '../../packages/ack/src/index.js';
import { Deadline, FakeClock } from '../../packages/core/src/index.js';

// Issue #17: NACK retries have a backoff of their own, and the client's lifecycle is one forward-only state (running → draining → closed) instead of
// flags. These are the orders a hostile caller can call close()/destroy()/send() in, on a real server.
const open: (AckClient | AckServer)[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.destroy();
});

async function setup(handler: (p: Buffer) => unknown = () => {}, options: Omit<AckClientOptions, 'port'> = {}) {
  const server = createAckServer({ handler });
  open.push(server);
  const { port } = await server.listen();
  const client = createAckClient({ port, ...options });
  open.push(client);
  return { server, client };
}

/** A handler that asks for a retry `busyTimes` times, then succeeds. */
function busyThen(busyTimes: number) {
  let calls = 0;
  return () => {
    if (++calls <= busyTimes) throw Object.assign(new Error('db busy'), { retryable: true });
  };
}

describe('NACK backoff of its own (issue #17)', () => {
  it('a slow reconnect backoff no longer slows NACK retries: 3 retryable NACKs are resent within the NACK backoff', async () => {
    const { client } = await setup(busyThen(3), {
      nackPolicy: 'retry',
      nackBackoff: { baseDelayMs: 10, maxDelayMs: 20 },
      reconnectBackoff: { baseDelayMs: 5_000, maxDelayMs: 5_000 },
    });
    const started = performance.now();
    await expect(client.send('order', { deadline: Deadline.after(2_000) })).resolves.toMatchObject({ attempts: 4 });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('the old rule (NACK retries on the reconnect backoff) misses the same deadline', async () => {
    // What 0.1.0 did for a client that tuned reconnect* to 5 s: each NACK waited up to 5 s (full jitter:
    // three retries all landing within 300 ms has odds of about 1 in 28,000).
    const { client } = await setup(busyThen(3), { nackPolicy: 'retry', nackBackoff: { baseDelayMs: 5_000, maxDelayMs: 5_000 } });
    const error = await client.send('order', { deadline: Deadline.after(300) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BW_ERR_ACK_TIMEOUT', cause: expect.objectContaining({ code: 'BW_ERR_NACKED' }) });
  });
});

describe('AckClient lifecycle (issue #17)', () => {
  it('close() drains: sends accepted before it are acknowledged, sends after it fail with BW_ERR_CLOSED; close() twice is one close', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { client } = await setup(() => gate);
    const accepted = client.send('before');
    const first = client.close();
    expect(client.close()).toBe(first);
    await expect(client.send('after')).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    release();
    await expect(accepted).resolves.toMatchObject({ id: 1, attempts: 1 });
    await first;
    expect(client.stats()).toMatchObject({ connected: false, inFlight: 0, queued: 0 });
  });

  it('destroy() during a pending close() rejects the unsettled sends and settles both promises; later calls are no-ops', async () => {
    const { client } = await setup(() => new Promise(() => {}));
    const pending = client.send('never acked');
    const closing = client.close();
    let closedEvents = 0;
    client.on('closed', () => closedEvents++);
    await client.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await closing;
    await client.destroy();
    await client.close();
    await expect(client.send('x')).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    expect(closedEvents).toBe(1);
  });

  it('healthy but unusual: close() on an idle client that never connected closes at once', async () => {
    const client = createAckClient({ port: 9, connectTimeoutMs: 200 });
    open.push(client);
    const started = performance.now();
    await client.close();
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('one lifecycle: close({ deadlineMs }), destroy(), asyncDispose (issue #17)', () => {
  it('client close({ deadlineMs }) stops waiting when the deadline passes: the unsettled reject, no timer is left', async () => {
    const clock = new FakeClock();
    let started = 0;
    const { client, server } = await setup(
      () => {
        started++;
        return new Promise(() => {});
      },
      { clock },
    );
    await until(() => client.stats().connected);
    const pending = client.send('never acked');
    pending.catch(() => {});
    await until(() => started === 1);
    const closing = client.close({ deadlineMs: 1_000 });
    clock.advance(999);
    expect(client.stats().inFlight).toBe(1);
    clock.advance(1);
    await closing;
    await expect(pending).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    expect(clock.pendingTimers).toBe(0);
    await until(() => server.stats().connections === 0);
    await expect(createAckClient({ port: 9 }).destroy()).resolves.toBeUndefined();
    await expect(client.close({ deadlineMs: -1 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadlineMs' } });
  });

  it('server destroy() abandons a handler that never finishes and closes every connection at once', async () => {
    const { server } = await stuckHandler();
    await server.destroy();
    expect(server.stats().abandonedHandlers).toBe(1);
    await until(() => server.stats().connections === 0);
    await expect(server.close()).resolves.toBeUndefined();
  });

  it('a later close({ deadlineMs }) shorter than the first cuts the wait for a stuck handler short; no timer is left', async () => {
    const { server } = await stuckHandler();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const t0 = performance.now();
    const first = server.close({ deadlineMs: 20_000 });
    const second = server.close({ deadlineMs: 100 });
    expect(second).toBe(first);
    await first;
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(server.stats().abandonedHandlers).toBe(1);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(before);
  });

  it('close() options are checked: a misspelt deadLineMs or null is a typed error, not "no limit"', async () => {
    const { client, server } = await setup();
    for (const target of [client, server]) {
      await expect(target.close({ deadLineMs: 0 } as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadLineMs' } });
      await expect(target.close(null as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
      await expect(target.close({ deadlineMs: 2 ** 31 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadlineMs' } });
    }
  });

  it('listen() after close() is refused with BW_ERR_CLOSED instead of binding a port that drops every connection', async () => {
    const { server } = await setup();
    await server.close();
    await expect(server.listen()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });

  it('send({ deadlineMs }) runs on the client clock, like send({ deadline }); createAckClient() without options is a typed error', async () => {
    const clock = new FakeClock();
    const { client } = await setup(() => new Promise(() => {}), { clock });
    let settled = false;
    const sent = client.send('x', { deadlineMs: 300 }).finally(() => {
      settled = true;
    });
    sent.catch(() => {});
    await new Promise((r) => setTimeout(r, 600));
    expect(settled).toBe(false);
    clock.advance(300);
    await expect(sent).rejects.toMatchObject({ code: 'BW_ERR_ACK_TIMEOUT' });
    expect(() => (createAckClient as (o?: unknown) => unknown)()).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
  });

  it('[Symbol.asyncDispose] closes a client and a server', async () => {
    const { client, server } = await setup();
    await client.send('one');
    await client[Symbol.asyncDispose]();
    await expect(client.send('two')).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await server[Symbol.asyncDispose]();
    await until(() => server.stats().connections === 0);
  });
});

/** A server whose handler never finishes, with one message running in it. */
async function stuckHandler() {
  let started = 0;
  const pair = await setup(
    () => {
      started++;
      return new Promise(() => {});
    },
    { reconnectBackoff: { baseDelayMs: 10_000, maxDelayMs: 10_000 } },
  );
  void pair.client.send('stuck').catch(() => {});
  await until(() => started === 1);
  return pair;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}
