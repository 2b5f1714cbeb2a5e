/** A small seeded PRNG (mulberry32): one seed reproduces a whole faulty run. */
export class Prng {
  #state: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Uniform integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.next() < probability;
  }
}

/** A seed from FC_SEED/STORAGE_SEED or the clock, printed so a failing run can be replayed. */
export function testSeed(name: string): number {
  const given = process.env.STORAGE_SEED;
  const seed = given === undefined ? Date.now() >>> 0 : Number(given);
  process.stdout.write(`# ${name}: seed=${seed} (replay with STORAGE_SEED=${seed})\n`);
  return seed;
}
