/**
 * A seeded random stream (xorshift32) for simulations and fuzzing, and the seed a test runs with:
 * ETHERPLANE_SIM_SEED replays a run; otherwise a fresh seed is drawn and printed.
 */
export class SeededRandom {
  private x: number;

  constructor(readonly seed: number) {
    this.x = seed >>> 0 || 1;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>>= 0);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability;
  }

  bytes(n: number): Buffer {
    const buffer = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) buffer[i] = this.next() & 0xff;
    return buffer;
  }

  /** An independent stream derived from this one (so adding a consumer does not shift others). */
  fork(): SeededRandom {
    return new SeededRandom(this.next() ^ 0x9e3779b9);
  }
}

export const SIM_SEED_ENV = "ETHERPLANE_SIM_SEED";

/**
 * The seed for one simulated test: from ETHERPLANE_SIM_SEED when set, else `fixed` when given,
 * else a new one. Printed
 * (on stderr, which node --test shows) with the command that replays it.
 */
export function simSeed(testName: string, fixed?: number): number {
  const fromEnv = process.env[SIM_SEED_ENV];
  const seed =
    fromEnv !== undefined && fromEnv !== ""
      ? Number(fromEnv) >>> 0
      : (fixed ?? Math.floor(Math.random() * 2 ** 31));
  process.stderr.write(`sim seed ${seed} for "${testName}" (replay: ${SIM_SEED_ENV}=${seed})\n`);
  return seed;
}
