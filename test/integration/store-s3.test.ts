import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../../infra/store/open-store.ts';
import { S3Store } from '../../infra/store/s3-store.ts';
import { configFromEnv } from '../../schemas/config.ts';
import { startS3Server, type S3ServerHandle } from '../helpers/s3-server.ts';
import { objectStoreContract } from '../helpers/store-contract.ts';

let server: S3ServerHandle;
let store: S3Store;
const savedEnv = { ...process.env };

before(async () => {
  server = await startS3Server();
  // Credentials reach the SDK only through the environment, as they do in a worker process.
  Object.assign(process.env, server.env);
  store = new S3Store(`s3://${server.bucket}/datasets/contract`, { s3: configFromEnv(server.env).s3 });
});
after(async () => {
  await store?.close();
  await server?.stop();
  process.env = savedEnv;
});

// Default parts are 8 MiB, two in flight: an upload holds about 3–4 parts (24–32 MiB measured), so a
// 48 MiB object with a 40 MiB ceiling tells streaming apart from buffering the whole body.
describe('S3Store contract (s3rver)', () =>
  objectStoreContract(() => store, { bigObjectBytes: 48 * 1024 * 1024, maxGrowthBytes: 40 * 1024 * 1024 }));

describe('S3Store specifics', () => {
  test('keys live under the URI prefix; locate names them', async () => {
    await store.put('train/local-000000.tar', 'tar bytes');
    assert.equal(store.locate('train/local-000000.tar'), `s3://${server.bucket}/datasets/contract/train/local-000000.tar`);
    const whole = new S3Store(`s3://${server.bucket}`, { s3: configFromEnv(server.env).s3 });
    try {
      assert.equal((await whole.getBuffer('datasets/contract/train/local-000000.tar')).toString(), 'tar bytes');
      const sibling = new S3Store(`s3://${server.bucket}/datasets/contract-other`, { s3: configFromEnv(server.env).s3 });
      const seen: string[] = [];
      for await (const object of sibling.list('')) seen.push(object.key);
      assert.deepEqual(seen, [], 'a prefix that merely starts the same is another store');
      await sibling.close();
    } finally {
      await whole.close();
    }
  });

  test('list follows continuation tokens across pages', async () => {
    const paged = new S3Store(`s3://${server.bucket}/paged`, { s3: configFromEnv(server.env).s3, pageSize: 3 });
    try {
      const keys = Array.from({ length: 10 }, (_, i) => `p/${String(i).padStart(3, '0')}.json`);
      for (const key of keys) await paged.put(key, key);
      const listed: string[] = [];
      for await (const object of paged.list('p/')) listed.push(object.key);
      assert.deepEqual(listed, keys);
    } finally {
      await paged.close();
    }
  });

  test('delete batches more keys than one DeleteObjects call takes', async () => {
    const many = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    await Promise.all(many.slice(-3).map((key) => store.put(key, 'x')));
    await store.delete(many);
    for await (const object of store.list('many/')) assert.fail(`left behind: ${object.key}`);
  });

  test('openStore opens this server from the environment configuration', async () => {
    const opened = openStore(`s3://${server.bucket}/via-open-store`, configFromEnv(server.env));
    try {
      assert.ok(opened instanceof S3Store);
      await opened.put('a/b.json', '{"hello":1}');
      assert.equal((await opened.getBuffer('a/b.json')).toString(), '{"hello":1}');
    } finally {
      await opened.close();
    }
  });

  test('a bucket that does not exist is named in the error', async () => {
    const missing = new S3Store('s3://no-such-bucket-here/x', { s3: configFromEnv(server.env).s3, maxAttempts: 1 });
    try {
      await assert.rejects(missing.put('k', 'v'), /no-such-bucket-here/);
    } finally {
      await missing.close();
    }
  });

  test('an unreachable endpoint fails fast, names the endpoint and never the secret', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-do-not-print';
    const previous = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    // Default retry and timeout settings: the point is that they fail quickly on their own.
    const unreachable = new S3Store('s3://clapset-test/x', {
      s3: configFromEnv({ CLAPSET_S3_ENDPOINT: 'http://127.0.0.1:1', AWS_REGION: 'us-east-1' }).s3,
    });
    try {
      for (const attempt of [() => unreachable.put('k', 'v'), () => unreachable.getBuffer('k'), () => unreachable.size('k')]) {
        const started = Date.now();
        const error = await attempt().then(
          () => assert.fail('expected a rejection'),
          (e: unknown) => e as Error,
        );
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
        assert.match(error.message, /^S3 endpoint http:\/\/127\.0\.0\.1:1 unreachable: .*ECONNREFUSED/);
        assert.ok(!inspect(error, { depth: 10 }).includes(secret), 'the secret key must not appear in the error');
      }
    } finally {
      await unreachable.close();
      process.env.AWS_SECRET_ACCESS_KEY = previous;
    }
  });

  test('an unreachable endpoint with one attempt fails within a second', async () => {
    const unreachable = new S3Store('s3://clapset-test/x', {
      s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true },
      maxAttempts: 1,
      connectTimeoutMs: 500,
    });
    const started = Date.now();
    try {
      await assert.rejects(unreachable.exists('k'), /S3 endpoint http:\/\/127\.0\.0\.1:1 unreachable/);
      assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    } finally {
      await unreachable.close();
    }
  });
});
