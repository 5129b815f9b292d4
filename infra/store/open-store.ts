import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, configFromEnv } from '../../schemas/config.ts';
import { LocalStore } from './local-store.ts';
import { type ObjectStore, safeKey } from './object-store.ts';
import { type S3StoreOptions, S3Store } from './s3-store.ts';

/**
 * Opens the store a dataset URI names: `s3://bucket/optional/prefix` → S3Store (endpoint, region and
 * path style from `config.s3`, credentials from the environment); `file:///abs/path` or a plain path
 * (relative to the current directory) → LocalStore.
 */
export function openStore(uri: string, config: Config = configFromEnv(), s3Options: Omit<S3StoreOptions, 's3'> = {}): ObjectStore {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      if (uri.trim() === '') throw new Error('empty store location: give s3://bucket/prefix, file:///path or a folder path');
      return new LocalStore(resolve(uri));
    case 's3':
      return new S3Store(uri, { ...s3Options, s3: config.s3 });
    case 'file':
      return new LocalStore(fileURLToPath(uri));
    default:
      throw new Error(`unsupported store scheme "${scheme}://" in ${JSON.stringify(uri)}: use s3://bucket/prefix (any S3-compatible endpoint via CLAPSET_S3_ENDPOINT), file:///path or a folder path`);
  }
}

/**
 * Joins key parts with single `/`s (`joinKey('train/', 'a.tar')` → `train/a.tar`), skipping empty parts,
 * and validates the result, so a leading `/`, `..` or a trailing `/` on the last part still show.
 */
export function joinKey(...parts: string[]): string {
  const kept = parts.filter((part) => part !== '');
  return safeKey(
    kept
      .map((part, i) => {
        const head = i === 0 ? part : part.replace(/^\/+/, '');
        return i === kept.length - 1 ? head : head.replace(/\/+$/, '');
      })
      .join('/'),
  );
}
