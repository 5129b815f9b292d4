/**
 * `fn` over `items` with at most `limit` calls at once; results in input order. After a call
 * rejects no new call starts, and the promise rejects with that error once the running calls have
 * settled (none is left running behind the caller's back, e.g. holding a file the caller deletes).
 */
export async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const runner = async () => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, runner));
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}

/**
 * Yields `fetch(item)` for each item in order, keeping up to `limit` fetches started beyond the item
 * being handed over (and, with `weight`, at most `maxWeight` of them in total unless one alone), so a
 * stream of small object reads is not paid one round trip at a time while memory stays bounded.
 * A failed fetch is thrown when its turn comes.
 */
export async function* fetchAhead<T, R>(
  items: Iterable<T>,
  fetch: (item: T) => Promise<R>,
  options: { limit: number; weight?: (item: T) => number; maxWeight?: number },
): AsyncGenerator<R> {
  const iterator = items[Symbol.iterator]();
  const window: { result: Promise<R>; weight: number }[] = [];
  let held = 0;
  let pending = iterator.next();
  const fill = () => {
    while (!pending.done && window.length < options.limit) {
      const weight = options.weight?.(pending.value) ?? 0;
      if (window.length > 0 && held + weight > (options.maxWeight ?? Infinity)) break;
      const result = fetch(pending.value);
      result.catch(() => {}); // handled when its turn comes
      window.push({ result, weight });
      held += weight;
      pending = iterator.next();
    }
  };
  fill();
  while (window.length > 0) {
    const head = window.shift()!;
    held -= head.weight;
    const value = await head.result;
    fill();
    yield value;
  }
}
