import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export interface TarMember {
  /** Member name at the tar root, e.g. `<key>.flac`. */
  name: string;
  size: number;
  /** Small members come as bytes; audio as a stream opened only when its turn comes. */
  body: Buffer | (() => Promise<Readable>);
}

/**
 * Streams members into a tar, one at a time and in order, so a shard of any size passes through
 * with one member's buffer in memory. A source error ends the tar stream with that error.
 */
export function tarStream(members: AsyncIterable<TarMember> | Iterable<TarMember>): Readable {
  const pack = tar.pack();
  const fill = async () => {
    for await (const member of members) {
      const header = { name: member.name, size: member.size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' };
      if (Buffer.isBuffer(member.body)) {
        const body = member.body;
        await new Promise<void>((resolve, reject) => pack.entry(header, body, (error) => (error ? reject(error) : resolve())));
      } else {
        const source = await member.body();
        const entry = pack.entry(header);
        await pipeline(source, entry);
      }
    }
    pack.finalize();
  };
  const out = Readable.from(pack as unknown as AsyncIterable<Buffer>, { objectMode: false });
  fill().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}
