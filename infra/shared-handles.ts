interface Held<T> {
  value: Promise<T>;
  users: number;
  timer: NodeJS.Timeout | undefined;
}

export interface SharedHandle<T> {
  value: T;
  /** Gives the handle back; the resource closes once nobody has held it for the idle time. */
  release(): void;
}

/**
 * Reference-counted sharing of expensive open resources (zip central directories, local or
 * remote) within a process: opened once per key, shared by concurrent users, closed after
 * `idleMs` with no user. A failed open is forgotten, so the next acquire tries again.
 */
export class SharedHandles<T> {
  readonly #held = new Map<string, Held<T>>();

  constructor(
    private readonly close: (value: T) => void,
    private readonly idleMs: number,
  ) {}

  async acquire(key: string, open: () => Promise<T>): Promise<SharedHandle<T>> {
    let entry = this.#held.get(key);
    if (!entry) {
      const fresh: Held<T> = { value: open(), users: 0, timer: undefined };
      this.#held.set(key, fresh);
      fresh.value.catch(() => this.#held.delete(key));
      entry = fresh;
    }
    const current = entry;
    clearTimeout(current.timer);
    current.users++;
    let value: T;
    try {
      value = await current.value;
    } catch (error) {
      current.users--;
      throw error;
    }
    let released = false;
    return {
      value,
      release: () => {
        if (released) return;
        released = true;
        if (--current.users > 0) return;
        current.timer = setTimeout(() => {
          if (this.#held.get(key) === current) this.#held.delete(key);
          this.close(value);
        }, this.idleMs);
        current.timer.unref();
      },
    };
  }
}
