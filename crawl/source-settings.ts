import { z } from 'zod';
import { parseOrThrow, ValidationError } from '../schemas/parse.ts';
import { sourceSpecSchema, type SourceSpec } from '../schemas/source-spec.ts';

/** One `--set key=value`: a dotted path into a source spec and the value to put there. */
export interface Setting {
  path: string[];
  value: unknown;
  /** As given, for error messages. */
  text: string;
}

/** Every source type `schemas/source-spec.ts` knows, in its order. */
export const SOURCE_TYPES: readonly string[] = sourceSpecSchema.options.map((o) => o.shape.type.value);

// Keys that would reach an object's prototype instead of its own fields.
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * `key=value` (split at the first `=`): the value is JSON when it parses as JSON (numbers, true,
 * null, lists, objects), else the plain string — so `pageSize=50` is a number and `query=dog` a
 * string; quote a string that looks like JSON (`query="1984"`). Dotted keys reach nested fields
 * (`oauthEnv.accessToken=MY_TOKEN_VAR`); a numeric segment indexes a list.
 */
export function parseSetting(text: string): Setting {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--set ${JSON.stringify(text)}: expected key=value`);
  const path = text.slice(0, eq).split('.');
  if (path.some((segment) => segment === '' || FORBIDDEN.has(segment))) throw new Error(`--set ${JSON.stringify(text)}: bad key ${JSON.stringify(text.slice(0, eq))}`);
  return { path, value: settingValue(text.slice(eq + 1)), text };
}

function settingValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Settings given as data (`{freesound: {pageSize: 50}}` ≡ `--set freesound.pageSize=50`), for code that builds them. */
export function settingsFrom(values: Record<string, Record<string, unknown>>): Setting[] {
  return Object.entries(values).flatMap(([head, fields]) =>
    Object.entries(fields).map(([key, value]) => ({ path: [head, key], value, text: `${head}.${key}=${JSON.stringify(value)}` })),
  );
}

/** A copy of `target` with each setting written at its path (later settings win). */
export function applySettings(target: Record<string, unknown>, settings: readonly Setting[]): Record<string, unknown> {
  const result = structuredClone(target);
  for (const { path, value } of settings) {
    let node = result;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      // Lists are objects too: `rate.0.limit` writes into the first window (string keys index arrays).
      node = (next !== null && typeof next === 'object' ? next : (node[segment] = {})) as Record<string, unknown>;
    }
    node[path.at(-1)!] = value;
  }
  return result;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/**
 * Validates a source spec built from options and settings. Besides the schema's own checks, every
 * field that was given must survive parsing: zod drops keys a source type does not have, and a
 * mistyped setting (`--set pagesize=50`) must be an error, not silently ignored. Errors name the
 * field (`source.<path>`) and the value.
 */
export function parseSourceSpec(input: Record<string, unknown>, given: readonly string[][], what: string): SourceSpec {
  if (!SOURCE_TYPES.includes(input.type as string)) {
    throw new ValidationError(what, [{ path: 'source.type', message: `unknown source type; one of ${SOURCE_TYPES.join(', ')}`, value: input.type }]);
  }
  // Parsed under a `source` key so that every error names its field as `source.<path>`.
  const { source: spec } = parseOrThrow(z.object({ source: sourceSpecSchema }), { source: input }, what);
  const unknown = given.filter((path) => valueAt(input, path) !== undefined && valueAt(spec, path) === undefined);
  if (unknown.length > 0) {
    throw new ValidationError(
      what,
      unknown.map((path) => ({ path: ['source', ...path].join('.'), message: `not a setting of ${spec.type} sources`, value: valueAt(input, path) })),
    );
  }
  return spec;
}

/** The paths of every leaf given in `input` (for `parseSourceSpec`'s check). */
export function givenPaths(input: Record<string, unknown>, settings: readonly Setting[]): string[][] {
  return [...Object.keys(input).filter((k) => input[k] !== undefined).map((k) => [k]), ...settings.map((s) => s.path)];
}

