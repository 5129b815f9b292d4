import { SeededRandom } from '../../infra/seeded-random.ts';

/** Seeded standard-normal draws (mulberry32 + Box–Muller) for forged weights: a seed fixes every byte. */
export function seededGaussian(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => {
    const u = 1 - random.next(); // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
  };
}
