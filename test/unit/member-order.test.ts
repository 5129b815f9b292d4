import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberOrderChecker } from '../../workers/shard/member-order.ts';

const check = (names: string[]) => {
  const checker = memberOrderChecker(['flac', 'json']);
  for (const n of names) checker.add(n);
  return checker.finish();
};

test('well-formed samples pass', () => {
  assert.deepEqual(check(['a.flac', 'a.json', 'b.json', 'b.flac']), { samples: 2, problems: [] });
});

test('non-adjacent members, missing members, nested paths and duplicates are reported', () => {
  assert.match(check(['a.flac', 'b.flac', 'b.json', 'a.json']).problems.join('\n'), /a appears again/);
  assert.match(check(['a.flac']).problems.join('\n'), /sample a has members \[flac\]/);
  assert.match(check(['dir/a.flac', 'dir/a.json']).problems.join('\n'), /not at the tar root/);
  assert.match(check(['a.flac', 'a.flac', 'a.json']).problems.join('\n'), /flac twice/);
  assert.match(check(['a.b.flac', 'a.b.json']).problems.join('\n'), /members \[b.flac, b.json\]/);
});
