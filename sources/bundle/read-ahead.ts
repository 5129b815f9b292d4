/**
 * How much to fetch when a zip reader asks for a few bytes that are not cached. yauzl reads the
 * central directory as many tiny sequential reads (46 bytes, then the name, per entry) and each
 * member's local header as two tiny reads at a random offset. One HTTP request per read would mean
 * two requests per entry of a 5,000-entry bundle, so: a read that continues the previous one grows
 * the window (doubling, up to `max`), a read elsewhere starts small again (`min`), enough to hold a
 * local header and its name without fetching much of the member data that follows.
 */
export class ReadAhead {
  readonly #min: number;
  readonly #max: number;
  #lastEnd = -1;
  #size: number;

  constructor(options: { min?: number; max?: number } = {}) {
    this.#min = options.min ?? 16 * 1024;
    this.#max = options.max ?? 4 * 1024 * 1024;
    this.#size = this.#min;
  }

  /** Records a read (cached or not) so the next one can be recognised as sequential. */
  noteRead(position: number, length: number): void {
    this.#lastEnd = position + length;
  }

  /** The byte range [start, end) to fetch for a read of `length` at `position` that missed the cache. */
  window(position: number, length: number, total: number): { start: number; end: number } {
    this.#size = position === this.#lastEnd ? Math.min(this.#size * 2, this.#max) : this.#min;
    return { start: position, end: Math.min(total, position + Math.max(length, this.#size)) };
  }
}
