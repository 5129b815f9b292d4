import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { LocalStore } from '../../infra/store/local-store.ts';
import { openStore } from '../../infra/store/open-store.ts';
import { S3Store } from '../../infra/store/s3-store.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { objectStoreContract } from '../helpers/store-contract.ts';

let root: string;
let store: LocalStore;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'clapset-local-store-'));
  store = new LocalStore(root);
});
after(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

describe('LocalStore contract', () => objectStoreContract(() => store));

describe('LocalStore specifics', () => {
  test('locate gives the absolute path and uri the folder as a file URL', async () => {
    await store.put('train/local-000000.tar', 'tar');
    assert.equal(store.locate('train/local-000000.tar'), join(root, 'train', 'local-000000.tar'));
    assert.equal(store.uri, pathToFileURL(root).href);
  });

  test('list sorts by key bytes across folders, as S3 does', async () => {
    for (const key of ['sort/a/1', 'sort/a-c', 'sort/a.json', 'sort/ab/x']) await store.put(key, key);
    const keys: string[] = [];
    for await (const object of store.list('sort/')) keys.push(object.key);
    // '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f), so a folder's contents come after `a-c`.
    assert.deepEqual(keys, ['sort/a-c', 'sort/a.json', 'sort/a/1', 'sort/ab/x']);
  });

  test('a reader never sees a half-written object, and list skips temp files', async () => {
    const body = new PassThrough();
    const writing = store.put('atomic/_stats.json', body);
    body.write('{"half":');
    // Wait until the partial file is on disk: the write is demonstrably under way.
    for (let i = 0; i < 200 && (await readdir(join(root, 'atomic')).catch(() => [])).length === 0; i++) await setTimeout(10);
    assert.equal((await readdir(join(root, 'atomic'))).length, 1, 'a temp file exists while writing');
    assert.equal(await store.exists('atomic/_stats.json'), false);
    const listedDuring: string[] = [];
    for await (const object of store.list('atomic/')) listedDuring.push(object.key);
    assert.deepEqual(listedDuring, []);
    body.end('true}');
    await writing;
    assert.equal((await store.getBuffer('atomic/_stats.json')).toString(), '{"half":true}');
    assert.deepEqual(await readdir(join(root, 'atomic')), ['_stats.json'], 'no temp file left behind');
  });

  test('a failing body stream leaves neither the object nor a temp file', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await assert.rejects(store.put('broken/x.tar', failing), /source broke/);
    assert.equal(await store.exists('broken/x.tar'), false);
    assert.deepEqual(await readdir(join(root, 'broken')), []);
  });

  test('a folder is not an object', async () => {
    await mkdir(join(root, 'folder/inner'), { recursive: true });
    await writeFile(join(root, 'folder/inner/f'), 'f');
    assert.equal(await store.size('folder/inner'), null);
    assert.equal(await store.exists('folder/inner'), false);
    await assert.rejects(store.getStream('folder/inner'), { name: 'NotFoundError' });
    await assert.rejects(store.getBuffer('folder/inner'), { name: 'NotFoundError' });
  });
});

describe('openStore', () => {
  const config = configFromEnv({});

  test('a plain path, relative or absolute, opens a LocalStore', () => {
    const relative = openStore('data/my-set', config);
    assert.ok(relative instanceof LocalStore);
    assert.equal(relative.root, resolve('data/my-set'));
    const absolute = openStore('/srv/datasets/x', config);
    assert.ok(absolute instanceof LocalStore);
    assert.equal(absolute.root, '/srv/datasets/x');
  });

  test('file:// opens a LocalStore at that path', () => {
    const store = openStore('file:///srv/datasets/with%20space', config);
    assert.ok(store instanceof LocalStore);
    assert.equal(store.root, '/srv/datasets/with space');
  });

  test('s3:// opens an S3Store with the bucket and prefix', async () => {
    const store = openStore('s3://my-bucket/datasets/set-1/', config);
    assert.ok(store instanceof S3Store);
    assert.equal(store.bucket, 'my-bucket');
    assert.equal(store.prefix, 'datasets/set-1/');
    assert.equal(store.uri, 's3://my-bucket/datasets/set-1');
    assert.equal(store.locate('train/a.tar'), 's3://my-bucket/datasets/set-1/train/a.tar');
    await store.close();
    const bare = openStore('s3://my-bucket', config);
    assert.ok(bare instanceof S3Store);
    assert.equal(bare.locate('x'), 's3://my-bucket/x');
    await bare.close();
  });

  test('unsupported schemes and malformed S3 URIs are refused clearly', () => {
    assert.throws(() => openStore('gs://bucket/x', config), /unsupported store scheme "gs:\/\/"/);
    assert.throws(() => openStore('https://example.com/x', config), /unsupported store scheme "https:\/\/"/);
    assert.throws(() => openStore('s3://', config), /not an S3 URI/);
    assert.throws(() => openStore('s3://Bad_Bucket/x', config), /invalid S3 bucket name/);
    assert.throws(() => openStore('s3://bucket/../x', config), { name: 'UnsafeKeyError' });
    assert.throws(() => openStore('', config), /empty store location/);
  });
});
