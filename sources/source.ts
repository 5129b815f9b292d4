import type { ClipRecord } from '../schemas/clip.ts';

/** Audio a worker can hand to ffmpeg: a file on this host, released once transcoded. */
export interface LocalAudio {
  path: string;
  release(): Promise<void>;
}

/**
 * One provider or collection. `records()` yields clip records in a deterministic order, so that
 * positional shards are the same on every run; `materialise()` makes one record's audio readable
 * on this host, throwing `ClipError` for problems that retrying cannot fix.
 */
export interface Source {
  readonly name: string;
  records(): AsyncIterable<ClipRecord>;
  materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio>;
}
