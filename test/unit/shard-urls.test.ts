import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableSchemes, braceUrl, shardPattern, shardUrlList, sizesLocation, type ShardUrlContext } from '../../dataset/shard-urls.ts';

const s3: ShardUrlContext = { home: { kind: 's3', bucket: 'b', prefix: 'ds/', endpoint: 'http://127.0.0.1:9000' }, publicUrl: 'https://cdn.example/ds/' };
const local: ShardUrlContext = { home: { kind: 'local', root: '/data/my sets/ds' }, publicUrl: null };

test('a pattern names each run of consecutive shards per source, so a missing shard is never named', () => {
  assert.equal(shardPattern(['a-000000.tar', 'a-000001.tar', 'a-000002.tar']), 'a-{000000..000002}.tar');
  assert.equal(shardPattern(['a-000000.tar']), 'a-000000.tar');
  assert.equal(
    shardPattern(['free-to-use-sounds-000003.tar', 'bbc-000000.tar', 'bbc-000001.tar', 'bbc-000003.tar', 'bbc-000004.tar', 'bbc-000005.tar']),
    '{bbc-{000000..000001},bbc-{000003..000005},free-to-use-sounds-000003}.tar',
  );
  // braceexpand pads a range to its wider end, so widths never share a range.
  assert.equal(shardPattern(['a-999999.tar', 'a-1000000.tar']), '{a-999999,a-1000000}.tar');
  assert.throws(() => shardPattern(['a.tar']), /not a clapset shard name/);
  assert.throws(() => shardPattern([]), /no shards/);
});

test('each scheme wraps the pattern the way its reader needs', () => {
  const names = ['a-000000.tar', 'a-000001.tar'];
  assert.equal(braceUrl(s3, 'pipe-aws', 'train', names), 'pipe:aws s3 cp --endpoint-url http://127.0.0.1:9000 s3://b/ds/train/a-{000000..000001}.tar -');
  assert.equal(braceUrl(s3, 'pipe-s5cmd', 'train', names), 'pipe:s5cmd --endpoint-url http://127.0.0.1:9000 cat s3://b/ds/train/a-{000000..000001}.tar');
  assert.equal(braceUrl(s3, 's3', 'test', names), 's3://b/ds/test/a-{000000..000001}.tar');
  assert.equal(braceUrl(s3, 'https', 'train', names), 'https://cdn.example/ds/train/a-{000000..000001}.tar');
  assert.equal(braceUrl({ ...s3, home: { ...s3.home, endpoint: null } as ShardUrlContext['home'] }, 'pipe-aws', 'train', names), 'pipe:aws s3 cp s3://b/ds/train/a-{000000..000001}.tar -');
  assert.deepEqual(shardUrlList(s3, 'pipe-aws', 'train', names), [
    'pipe:aws s3 cp --endpoint-url http://127.0.0.1:9000 s3://b/ds/train/a-000000.tar -',
    'pipe:aws s3 cp --endpoint-url http://127.0.0.1:9000 s3://b/ds/train/a-000001.tar -',
  ]);
  assert.equal(sizesLocation(s3, 'pipe-aws', 'train'), 's3://b/ds/train/sizes.json');
  assert.equal(sizesLocation(s3, 'https', 'test'), 'https://cdn.example/ds/test/sizes.json');
  assert.deepEqual(availableSchemes(s3), ['pipe-aws', 'pipe-s5cmd', 's3', 'https']);
  assert.deepEqual(availableSchemes(local), ['path']);
});

test('local paths keep spaces (opened directly) and escape brace characters; shell words are quoted', () => {
  assert.equal(braceUrl(local, 'path', 'train', ['a-000000.tar', 'a-000001.tar']), '/data/my sets/ds/train/a-{000000..000001}.tar');
  const odd: ShardUrlContext = { home: { kind: 'local', root: '/d/{x,y}' }, publicUrl: null };
  assert.equal(braceUrl(odd, 'path', 'train', ['a-000000.tar']), '/d/\\{x\\,y\\}/train/a-000000.tar');
  assert.deepEqual(shardUrlList(odd, 'path', 'train', ['a-000000.tar']), ['/d/{x,y}/train/a-000000.tar']);
  const spaced: ShardUrlContext = { home: { kind: 's3', bucket: 'b', prefix: "it's here/", endpoint: null }, publicUrl: null };
  // braceexpand drops one level of backslashes, leaving the shell's '\'' intact.
  assert.equal(braceUrl(spaced, 'pipe-aws', 'train', ['a-000000.tar', 'a-000001.tar']), "pipe:aws s3 cp 's3://b/it'\\\\''s here/train/a-{000000..000001}.tar' -");
  assert.deepEqual(shardUrlList(spaced, 'pipe-aws', 'train', ['a-000000.tar']), ["pipe:aws s3 cp 's3://b/it'\\''s here/train/a-000000.tar' -"]);
});

test('a scheme the dataset cannot serve is refused with what would work', () => {
  assert.throws(() => braceUrl(local, 'pipe-aws', 'train', ['a-000000.tar']), /local folder \/data\/my sets\/ds: --scheme pipe-aws needs an s3:\/\/ dataset/);
  assert.throws(() => braceUrl(local, 'https', 'train', ['a-000000.tar']), /no public URL .*--public-url/);
  assert.throws(() => braceUrl(s3, 'path', 'train', ['a-000000.tar']), /s3:\/\/b\/ds\/: read it with --scheme pipe-aws/);
});
