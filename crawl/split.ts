import { createHash } from 'node:crypto';
import type { Split } from '../schemas/dataset.ts';

/**
 * Seeded train/test assignment from the key alone, so that a clip lands in the same split on every
 * run whatever the order or number of workers (LAION split 90/10 with a fixed seed).
 */
export function assignSplit(key: string, seed: string, testFraction: number): Split {
  const digest = createHash('sha256').update(`${seed}\0${key}`).digest();
  const unit = digest.readUInt32BE(0) / 0x1_0000_0000;
  return unit < testFraction ? 'test' : 'train';
}
