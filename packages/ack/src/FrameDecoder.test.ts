import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from './FrameDecoder.js';
import { encodeAck, encodeData, encodeFrame, encodeNack, type Frame, MAX_REASON_BYTES } from './frames.js';

const protocolError = expect.objectContaining({ code: 'BW_ERR_PROTOCOL' });
const session = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    session: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
    window: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  }),
  fc
    .record({ floor: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), span: fc.nat(1_000), payload: fc.uint8Array({ maxLength: 300 }) })
    .filter(({ floor, span }) => floor + span <= Number.MAX_SAFE_INTEGER)
    .map(({ floor, span, payload }) => ({ type: 'data' as const, id: floor + span, floor, payload: Buffer.from(payload) })),
  fc.record({ type: fc.constant('ack' as const), id: fc.maxSafeNat() }),
  fc.record({ type: fc.constant('nack' as const), id: fc.maxSafeNat(), retryable: fc.boolean(), reason: fc.string({ maxLength: 100 }) }),
  fc.record({ type: fc.constant('ping' as const), token: fc.maxSafeNat() }),
  fc.record({ type: fc.constant('pong' as const), token: fc.maxSafeNat() }),
);

/** Splits `buf` at the given cut points (fractions), as TCP may. */
function slices(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out;
}

describe('FrameDecoder', () => {
  it('round-trips every frame type', () => {
    const frames: Frame[] = [
      { type: 'hello', session, window: 64 },
      { type: 'data', id: 7, floor: 3, payload: Buffer.from('hello') },
      { type: 'data', id: Number.MAX_SAFE_INTEGER, floor: 1, payload: Buffer.alloc(0) },
      { type: 'ack', id: 2 ** 40 + 5 },
      { type: 'nack', id: 9, retryable: true, reason: 'db down – réessayer' },
      { type: 'ping', token: 1 },
      { type: 'pong', token: 1 },
    ];
    const d = new FrameDecoder();
    expect(d.push(Buffer.concat(frames.map(encodeFrame)))).toEqual(frames);
    expect(d.bufferedBytes).toBe(0);
  });

  it('reassembles frames split at any byte (property)', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        (frames, cuts) => {
          const d = new FrameDecoder();
          const out = slices(Buffer.concat(frames.map(encodeFrame)), cuts).flatMap((c) => d.push(c));
          expect(out).toEqual(frames.map((f) => (f.type === 'nack' ? { ...f, reason: Buffer.from(f.reason).toString() } : f)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects an oversized frame from its length field, before buffering the body', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1_024 });
    const big = encodeData(1, 1, Buffer.alloc(2_000));
    expect(() => d.push(big.subarray(0, 10))).toThrow(protocolError);
    expect(d.bufferedBytes).toBe(0);
    // Failed for good: the connection is to be closed.
    expect(() => d.push(encodeAck(1))).toThrow(protocolError);
    expect(new FrameDecoder({ maxFrameBytes: 1_024 }).push(encodeData(1, 1, Buffer.alloc(1_024 - 22)))).toHaveLength(1);
  });

  it.each([
    ['a wrong version', Buffer.from([0, 0, 0, 10, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1])],
    ['an unknown type', Buffer.from([0, 0, 0, 10, 1, 99, 0, 0, 0, 0, 0, 0, 0, 1])],
    ['a length below 2', Buffer.from([0, 0, 0, 1, 1])],
    ['an ACK of the wrong size', Buffer.from([0, 0, 0, 6, 1, 3, 0, 0, 0, 1])],
    ['an id above 2^53 - 1', Buffer.from([0, 0, 0, 10, 1, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['DATA with floor above id', encodeData(1, 1, Buffer.alloc(0)).fill(9, 21, 22)],
    ['DATA with id 0', Buffer.concat([Buffer.from([0, 0, 0, 18, 1, 2]), Buffer.alloc(16)])],
    ['a HELLO with window 0', Buffer.concat([Buffer.from([0, 0, 0, 22, 1, 1]), Buffer.alloc(20)])],
    ['a NACK with unknown flags', Buffer.from([...encodeNack(1, false, 'x')].map((b, i) => (i === 14 ? 4 : b)))],
    ['a NACK reason that is not UTF-8', encodeFrameRaw(4, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff]))],
    ['a NACK reason over the limit', encodeFrameRaw(4, Buffer.alloc(9 + MAX_REASON_BYTES + 1, 0x61))],
  ])('rejects %s with BW_ERR_PROTOCOL', (_name, bytes) => {
    expect(() => new FrameDecoder().push(bytes)).toThrow(protocolError);
  });

  it('skipOversizedData (the server): an oversized DATA comes back as its header, its body discarded unbuffered, at any split (property)', () => {
    const big = encodeData(7, 3, Buffer.alloc(5_000, 1));
    const after = encodeFrame({ type: 'ack', id: 9 });
    const hello = encodeFrame({ type: 'hello', session, window: 8 });
    const stream = Buffer.concat([hello, encodeFrame({ type: 'ping', token: 1 }), big, after]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (cuts) => {
        const decoder = new FrameDecoder({ maxFrameBytes: 1_024, skipOversizedData: true });
        const frames: Frame[] = [];
        for (const piece of slices(stream, cuts)) {
          frames.push(...decoder.push(piece));
        }
        expect(frames).toEqual([
          { type: 'hello', session, window: 8 },
          { type: 'ping', token: 1 },
          { type: 'data', id: 7, floor: 3, payload: Buffer.alloc(0), oversizedBytes: big.length },
          { type: 'ack', id: 9 },
        ]);
      }),
    );
    // Byte by byte: nothing of the body is ever held.
    const trickle = new FrameDecoder({ maxFrameBytes: 1_024, skipOversizedData: true });
    trickle.push(hello);
    let most = 0;
    for (const byte of big) {
      trickle.push(Buffer.of(byte));
      most = Math.max(most, trickle.bufferedBytes);
    }
    expect(most).toBeLessThan(64);
    // Any other oversized frame is still an error; and without the option (the client), an oversized DATA is one too.
    const hugeAck = Buffer.alloc(30);
    hugeAck.writeUInt32BE(2_000, 0);
    hugeAck[4] = 1;
    hugeAck[5] = 3;
    expect(() => new FrameDecoder({ maxFrameBytes: 1_024, skipOversizedData: true }).push(Buffer.concat([hello, hugeAck]))).toThrow(protocolError);
    // Before a HELLO, an oversized DATA is an error even on the server: no session to refuse it in.
    expect(() => new FrameDecoder({ maxFrameBytes: 1_024, skipOversizedData: true }).push(big)).toThrow(protocolError);
    expect(() => new FrameDecoder({ maxFrameBytes: 1_024 }).push(big)).toThrow(protocolError);
  });

  it('100,000 random and mutated frames: no crash, only BW_ERR_PROTOCOL (fuzz)', () => {
    let frames = 0;
    let errors = 0;
    const mutated = fc
      .tuple(fc.array(frameArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), fc.nat())
      .map(([fs, flips, cut]) => {
        const buf = Buffer.concat(fs.map(encodeFrame));
        for (const [at, value] of flips) buf[at % buf.length] = value;
        return buf.subarray(0, buf.length - (cut % 3 === 0 ? cut % buf.length : 0));
      });
    const input = fc.oneof(
      mutated,
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(input, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (bytes, cuts) => {
        const d = new FrameDecoder({ maxFrameBytes: 4_096 });
        try {
          for (const chunk of slices(bytes, cuts)) frames += d.push(chunk).length;
        } catch (error) {
          errors++;
          expect(error).toMatchObject({ code: 'BW_ERR_PROTOCOL', name: 'BreakwaterError' });
        }
      }),
      { numRuns: 100_000 },
    );
    // Both paths were exercised.
    expect(frames).toBeGreaterThan(10_000);
    expect(errors).toBeGreaterThan(10_000);
  }, 120_000);
});

function encodeFrameRaw(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(body.length + 2, 0);
  head[4] = 1;
  head[5] = type;
  return Buffer.concat([head, body]);
}
