import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalStore } from '../../infra/store/local-store.ts';
import { safeKey, UnsafeKeyError } from '../../infra/store/object-store.ts';
import { joinKey } from '../../infra/store/open-store.ts';

describe('safeKey', () => {
  test('accepts ordinary relative keys and folder prefixes', () => {
    for (const key of ['train/local-000000.tar', 'a/b/', 'README.md', '_stats.json', 'x/.hidden', 'a b/ü.flac']) {
      assert.equal(safeKey(key), key);
    }
  });

  test('rejects keys that could escape or are malformed', () => {
    for (const key of ['../x', 'a/../b', 'a/..', './a', 'a/./b', '/abs', 'a//b', 'a\\b', '..\\x', 'a\u0000b', 'a\nb', '', 'x'.repeat(1025)]) {
      assert.throws(() => safeKey(key), UnsafeKeyError, JSON.stringify(key));
    }
  });
});

describe('joinKey', () => {
  test('joins with single slashes and validates', () => {
    assert.equal(joinKey('train/', 'local-000000.tar'), 'train/local-000000.tar');
    assert.equal(joinKey('staging', '', '/shard-1/', 'a.flac'), 'staging/shard-1/a.flac');
    assert.equal(joinKey('a', 'b/'), 'a/b/');
    assert.throws(() => joinKey('/abs', 'x'), UnsafeKeyError);
    assert.throws(() => joinKey('a', '..', 'x'), UnsafeKeyError);
    assert.throws(() => joinKey(), UnsafeKeyError);
  });
});

describe('LocalStore refuses keys that would leave its root', () => {
  let parent: string;
  let root: string;
  let outside: string;
  let store: LocalStore;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'clapset-key-'));
    root = join(parent, 'root');
    outside = join(parent, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'do not touch');
    store = new LocalStore(root);
  });
  after(async () => rm(parent, { recursive: true, force: true }));

  const escaping = ['../escaped.txt', '../outside/secret.txt', 'a/../../escaped.txt', '/tmp/escaped.txt', 'a\\..\\..\\escaped.txt', '..', 'a//b'];

  test('put, get, size, delete and list all refuse escaping keys', async () => {
    for (const key of escaping) {
      await assert.rejects(store.put(key, 'x'), UnsafeKeyError, `put ${key}`);
      await assert.rejects(store.getBuffer(key), UnsafeKeyError, `getBuffer ${key}`);
      await assert.rejects(store.getStream(key), UnsafeKeyError, `getStream ${key}`);
      await assert.rejects(store.size(key), UnsafeKeyError, `size ${key}`);
      await assert.rejects(store.delete(['ok', key]), UnsafeKeyError, `delete ${key}`);
      assert.throws(() => store.locate(key), UnsafeKeyError, `locate ${key}`);
      await assert.rejects(async () => {
        for await (const _ of store.list(key)) break;
      }, UnsafeKeyError, `list ${key}`);
    }
    assert.deepEqual((await readdir(parent)).sort(), ['outside', 'root'], 'nothing written beside the root');
    assert.deepEqual(await readdir(outside), ['secret.txt'], 'nothing written or deleted outside');
    assert.deepEqual(await readdir(root), [], 'nothing written inside either');
  });

  test('a symlinked folder inside the root cannot be used to write or delete outside it', async () => {
    await symlink(outside, join(root, 'link'));
    await assert.rejects(store.put('link/escaped.txt', 'x'), UnsafeKeyError);
    await assert.rejects(store.delete(['link/secret.txt']), UnsafeKeyError);
    assert.deepEqual(await readdir(outside), ['secret.txt']);
  });
});
