import { getRandomValues } from 'node:crypto';

/** Largest seed accepted: seeds are unsigned 32-bit integers so they fit in a log line and a test name. */
export const MAX_SEED = 0xffff_ffff;

/**
 * A small, fast, seeded pseudo-random generator (sfc32, seeded through
 * splitmix32). Not for cryptography: it exists so that every random decision a
 * fault makes can be replayed from one printed seed.
 *
 * @see https://pracrand.sourceforge.net/ (sfc32 passes PractRand to 2^42 bytes)
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    // splitmix32 spreads a possibly tiny seed (0, 1, 2…) over the 128-bit state.
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e37_79b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = mix();
    this.#b = mix();
    this.#c = mix();
    this.#d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, n), for a positive integer n. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * An independent generator seeded from this one. Each connection and each
   * fault gets its own fork, so the decisions of one never shift the random
   * sequence of another (a chunk boundary moving does not change which
   * connections a fault picks).
   */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}

/** A random seed in [0, MAX_SEED], from the OS entropy source. */
export function randomSeed(): number {
  return getRandomValues(new Uint32Array(1))[0]!;
}
