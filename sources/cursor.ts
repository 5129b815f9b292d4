/**
 * A resume cursor `{"<field>": n, …}` of integers, each at least its minimum; anything else is an
 * error naming the source and the expected shape (a cursor comes from our own checkpoint, so a bad
 * one means a damaged or foreign checkpoint, never "start over").
 */
export function parseIntegerCursor<F extends string>(source: string, cursor: string | undefined, minimums: Record<F, number>, expected: string): Record<F, number> | null {
  if (cursor === undefined) return null;
  try {
    const value = JSON.parse(cursor) as Partial<Record<F, unknown>>;
    const fields = Object.entries(minimums) as [F, number][];
    if (fields.every(([field, min]) => Number.isInteger(value[field]) && (value[field] as number) >= min)) {
      return Object.fromEntries(fields.map(([field]) => [field, value[field]])) as Record<F, number>;
    }
  } catch {
    // fall through
  }
  throw new Error(`${source}: bad resume cursor ${JSON.stringify(cursor)} (expected ${expected})`);
}
