import type { Rng } from '../internal/rng.js';
import type { Timed } from './Pipe.js';

/**
 * The three faults that reshape a stream in time. Each takes the pieces a
 * chunk became so far and returns new pieces with later release times; the
 * Pipe then keeps the overall order. They are applied in a fixed order:
 * slicer (cut), then latency (delay), then bandwidth (pace), like a link that
 * fragments, then propagates, then serialises at its bottleneck.
 */

/** A cursor carried from chunk to chunk: the release time of the previous piece. */
export interface Cursor {
  at: number;
}

/** Cuts every piece into `averageSize` ± `sizeVariation` bytes, `delayMs` apart (also across chunks). */
export function slice(pieces: readonly Timed[], averageSize: number, sizeVariation: number, delayMs: number, rng: Rng, cursor: Cursor): Timed[] {
  const out: Timed[] = [];
  for (const piece of pieces) {
    let offset = 0;
    while (offset < piece.data.length) {
      const spread = sizeVariation === 0 ? 0 : rng.int(2 * sizeVariation + 1) - sizeVariation;
      const size = Math.max(1, averageSize + spread);
      const at = Math.max(piece.at, cursor.at + delayMs);
      cursor.at = at;
      out.push({ data: piece.data.subarray(offset, offset + size), at });
      offset += size;
    }
  }
  return out;
}

/** Adds `latencyMs` ± `jitterMs` to every piece (never less than 0). */
export function delay(pieces: readonly Timed[], latencyMs: number, jitterMs: number, rng: Rng): Timed[] {
  return pieces.map((piece) => {
    const jitter = jitterMs === 0 ? 0 : (rng.next() * 2 - 1) * jitterMs;
    return { data: piece.data, at: piece.at + Math.max(0, latencyMs + jitter) };
  });
}

/**
 * Paces pieces so that no more than `bytesPerSecond` leave: each piece is
 * released when its last byte would have crossed the bottleneck. Large pieces
 * are cut into 50 ms worth of bytes so the stream stays smooth.
 */
export function throttle(pieces: readonly Timed[], bytesPerSecond: number, cursor: Cursor): Timed[] {
  const step = Math.max(1, Math.ceil(bytesPerSecond / 20));
  const out: Timed[] = [];
  for (const piece of pieces) {
    for (let offset = 0; offset < piece.data.length; offset += step) {
      const data = piece.data.subarray(offset, offset + step);
      const at = Math.max(piece.at, cursor.at) + (data.length * 1000) / bytesPerSecond;
      cursor.at = at;
      out.push({ data, at });
    }
  }
  return out;
}
