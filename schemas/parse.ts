import type { z } from 'zod';

/** A boundary rejected its input; the message names each offending field and the value it held. */
export class ValidationError extends Error {
  constructor(
    readonly what: string,
    readonly problems: { path: string; message: string; value: unknown }[],
  ) {
    super(`invalid ${what}: ${problems.map((p) => `${p.path || '(root)'}: ${p.message} (got ${preview(p.value)})`).join('; ')}`);
    this.name = 'ValidationError';
  }
}

/** Parses `value` with `schema`, or throws a ValidationError naming the field and value at fault. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    what,
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message: issue.message,
      value: valueAt(value, issue.path),
    })),
  );
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
