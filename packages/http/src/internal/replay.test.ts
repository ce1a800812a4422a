import { describe, expect, it } from 'vitest';
import { ReplayableBody } from './replay.js';

/** A one-shot source whose chunks arrive only when the test releases them (a slow uploader). */
function gatedSource(chunks: string[]) {
  const waiting: (() => void)[] = [];
  let reads = 0;
  const source = (async function* () {
    for (const c of chunks) {
      reads++;
      await new Promise<void>((r) => waiting.push(r));
      yield Buffer.from(c);
    }
  })();
  const release = async () => {
    while (waiting.length === 0) await new Promise((r) => setImmediate(r));
    waiting.shift()!();
  };
  return { source, release, reads: () => reads };
}

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const c of body) out += c.toString();
  return out;
}

const CHUNKS = Array.from({ length: 6 }, (_, i) => `chunk-${i}|`);

describe('ReplayableBody', () => {
  it('a retry that starts while the previous attempt still waits on the source sends the same bytes (regression: one chunk lost, the next sent twice)', async () => {
    const { source, release } = gatedSource(CHUNKS);
    const replay = new ReplayableBody(source, 65_536);
    // Attempt 1 reads two chunks, then asks for a third that has not arrived: the connection is reset there.
    const first = replay.body()[Symbol.asyncIterator]();
    const got: string[] = [];
    for (let i = 0; i < 2; i++) {
      const next = first.next();
      await release();
      got.push(String((await next).value));
    }
    const pending = first.next();
    // Attempt 2 starts at once (backoff 0): it replays what was recorded, then waits on the same read.
    const second = readAll(replay.body());
    // Let it replay the recording and reach the source while attempt 1's read is still pending.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    for (let i = 2; i < CHUNKS.length; i++) await release();
    expect(await second).toBe(CHUNKS.join(''));
    expect((await pending).done).toBe(true);
    expect(got).toEqual(CHUNKS.slice(0, 2));
  });

  it('healthy: one attempt reads the source once, in order, and a later replay is identical', async () => {
    const replay = new ReplayableBody(
      (async function* () {
        yield* CHUNKS.map((c) => Buffer.from(c));
      })(),
      65_536,
    );
    expect(await readAll(replay.body())).toBe(CHUNKS.join(''));
    expect(await readAll(replay.body())).toBe(CHUNKS.join(''));
    expect(replay.readBytes).toBe(CHUNKS.join('').length);
  });

  it('past maxReplayBodyBytes, an attempt that is behind the source fails rather than send a gapped body', async () => {
    const replay = new ReplayableBody(
      (async function* () {
        yield* CHUNKS.map((c) => Buffer.from(c));
      })(),
      20,
    );
    const first = replay.body()[Symbol.asyncIterator]();
    await first.next();
    await first.next();
    await first.next(); // 24 bytes read: the recording (20) is dropped
    expect(replay.replayable).toBe(false);
    await expect(readAll(replay.body())).rejects.toThrow(/not replayable: this attempt sent 0 of the 24 bytes/);
  });
});
