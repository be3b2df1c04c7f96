/**
 * A small seeded pseudo-random generator (mulberry32) so that every synthetic object is a pure function of its
 * options: the same seed gives the same bytes on every machine. Not for anything that needs real randomness.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Approximately normal with mean 0 and standard deviation 1 (sum of four uniforms, scaled). */
  normal(): number;
  /** Integer in [0, n). */
  int(n: number): number;
}

export function seededRandom(seed: number): Random {
  let state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal: () => (next() + next() + next() + next() - 2) * 1.7320508,
    int: (n) => Math.floor(next() * n),
  };
}
