import { createHash } from 'node:crypto';

/**
 * A sample's WebDataset key: the source name plus a hash of the provider id. It is stable across
 * reruns and hosts, unique per (source, id), and has no dot (readers split member names at the first dot).
 */
export function sampleKey(source: string, providerId: string): string {
  const digest = createHash('sha256').update(`${source}\0${providerId}`).digest('hex');
  return `${source}-${digest.slice(0, 20)}`;
}
