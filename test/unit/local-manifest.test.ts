import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { manifestFormat, readManifest, type ManifestItem } from '../../sources/local/manifest.ts';
import { interpretRow } from '../../sources/local/manifest-row.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clapset-manifest-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function read(name: string, content: string | Buffer): Promise<ManifestItem[]> {
  const file = join(dir, name);
  await writeFile(file, content);
  const items: ManifestItem[] = [];
  for await (const item of readManifest(file)) items.push(item);
  return items;
}

function ok(item: ManifestItem | undefined) {
  assert.ok(item?.ok, `expected a valid row, got ${JSON.stringify(item)}`);
  return item;
}

function invalid(item: ManifestItem | undefined) {
  assert.ok(item && !item.ok, `expected an invalid row, got ${JSON.stringify(item)}`);
  return item;
}

describe('interpretRow', () => {
  it('reads aliases case-insensitively and keeps other columns', () => {
    const row = ok(interpretRow({ Path: ' a/b.wav ', Description: 'Rain | Rain on a roof', Tags: 'rain; weather,rain', Licence: 'CC0', bpm: '120' }, 2, 'csv'));
    assert.equal(row.file, 'a/b.wav');
    assert.deepEqual(row.captions, ['Rain', 'Rain on a roof']);
    assert.deepEqual(row.tags, ['rain', 'weather']);
    assert.equal(row.license, 'CC0');
    assert.deepEqual(row.extra, { bpm: '120' });
  });

  it('prefers the first alias with a value; an empty caption column does not hide a filled one', () => {
    const row = ok(interpretRow({ file: 'x.wav', caption: '', text: 'from text', description: 'from description' }, 3, 'csv'));
    assert.deepEqual(row.captions, ['from text']);
    assert.deepEqual(row.extra, { caption: '', description: 'from description' });
  });

  it('empty fields mean "none given"', () => {
    const row = ok(interpretRow({ file: 'x.wav', caption: '', tags: '', license: '' }, 4, 'csv'));
    assert.deepEqual([row.captions, row.tags, row.license], [[], [], null]);
  });

  it('does not split JSONL captions on " | " (only CSV packs several into one cell)', () => {
    assert.deepEqual(ok(interpretRow({ file: 'x.wav', caption: 'a | b' }, 1, 'jsonl')).captions, ['a | b']);
  });

  it('names line, field and value for a missing file or a wrong type', () => {
    assert.match(invalid(interpretRow({ caption: 'x' }, 7, 'jsonl')).invalid, /^invalid manifest row at line 7: file: required.*\(got undefined\)$/);
    assert.match(invalid(interpretRow({ file: 42 }, 8, 'jsonl')).invalid, /line 8: file: expected a string.*\(got 42\)/);
    assert.match(invalid(interpretRow({ file: 'x.wav', tags: ['a', 3] }, 9, 'jsonl')).invalid, /line 9: tags\.1: expected a string \(got 3\)/);
    assert.match(invalid(interpretRow({ file: 'x.wav', license: false }, 10, 'jsonl')).invalid, /line 10: license: expected a string \(got false\)/);
  });
});

describe('CSV manifests', () => {
  it('handles a BOM, quoted commas, quotes and newlines, non-ASCII and empty fields, with start line numbers', async () => {
    const csv =
      '\uFEFFfile,caption,tags,license,source_url\n' +
      '"sfx/door, wooden.wav","A door slams, hard | A ""wooden"" door",doors;wood,CC-BY 4.0,https://x.test/1\n' +
      '\n' +
      'Ünïcödé/ça_va.wav,"Café au lait,\nsecond line",,,\n' +
      'plain.wav,,,,\n' +
      'short.wav,only a caption\n';
    const items = await read('m.csv', csv);
    assert.equal(items.length, 4);
    const [a, b, c, d] = [ok(items[0]), ok(items[1]), ok(items[2]), ok(items[3])];
    assert.deepEqual(
      { line: a.line, file: a.file, captions: a.captions, tags: a.tags, license: a.license, extra: a.extra },
      { line: 2, file: 'sfx/door, wooden.wav', captions: ['A door slams, hard', 'A "wooden" door'], tags: ['doors', 'wood'], license: 'CC-BY 4.0', extra: { source_url: 'https://x.test/1' } },
    );
    assert.equal(b.line, 4);
    assert.equal(b.file, 'Ünïcödé/ça_va.wav');
    assert.deepEqual(b.captions, ['Café au lait, second line']);
    assert.deepEqual([b.tags, b.license], [[], null]);
    assert.equal(c.line, 6);
    assert.deepEqual([c.captions, c.tags, c.license], [[], [], null]);
    assert.equal(d.line, 7);
    assert.deepEqual(d.captions, ['only a caption']);
  });

  it('keeps line numbers right with CRLF line ends inside quoted fields', async () => {
    const items = await read('crlf.csv', 'path,text\r\n"a.wav","one\r\ntwo"\r\n\r\nb.wav,three\r\n');
    assert.deepEqual(items.map((i) => [i.line, ok(i).file, ok(i).captions]), [
      [2, 'a.wav', ['one two']],
      [5, 'b.wav', ['three']],
    ]);
  });

  it('marks bad rows invalid and goes on: missing file, too many fields, stray quotes kept', async () => {
    const csv = 'file,caption\n,no file here\na.wav,x,extra\nb.wav,a "quoted" word\nc.wav,fine\n';
    const items = await read('bad.csv', csv);
    assert.equal(items.length, 4);
    assert.match(invalid(items[0]).invalid, /line 2: file: required/);
    assert.match(invalid(items[1]).invalid, /line 3: .*3 fields but the header names 2/);
    assert.deepEqual(ok(items[2]).captions, ['a "quoted" word']);
    assert.equal(ok(items[3]).file, 'c.wav');
  });

  it('reports an unclosed quote as an invalid row with its line', async () => {
    const items = await read('unclosed.csv', 'file,caption\na.wav,ok\nb.wav,"never closed\nc.wav,swallowed\n');
    assert.equal(ok(items[0]).file, 'a.wav');
    const last = invalid(items.at(-1));
    assert.equal(last.line, 3);
    assert.match(last.invalid, /^invalid manifest row at line 3: a quoted field opened in this row is never closed/);
  });

  it('streams a large file with line numbers right across chunk boundaries', async () => {
    const rows = ['file,caption'];
    for (let i = 0; i < 30000; i++) rows.push(i % 997 === 0 ? `f${i}.wav,"multi\nline ${i}",x` : `f${i}.wav,caption ${i}`);
    const items = await read('big.csv', `${rows.join('\n')}\n`);
    assert.equal(items.length, 30000);
    let line = 2;
    for (const [i, item] of items.entries()) {
      if (i % 997 === 0) {
        assert.match(invalid(item).invalid, new RegExp(`^invalid manifest row at line ${line}: has 3 fields`));
        line += 2;
      } else {
        assert.deepEqual([item.line, ok(item).file], [line, `f${i}.wav`]);
        line += 1;
      }
    }
  });

  it('reads TSV', async () => {
    const items = await read('m.tsv', 'filename\tcaption\na, b.wav\tx, y\n');
    assert.deepEqual([ok(items[0]).file, ok(items[0]).captions], ['a, b.wav', ['x, y']]);
  });

  it('refuses a header without a file column', async () => {
    await assert.rejects(read('nofile.csv', 'name,caption\na.wav,x\n'), /no file column.*header is: name, caption/);
  });

  it('yields nothing for an empty file', async () => {
    assert.deepEqual(await read('empty.csv', ''), []);
  });
});

describe('JSONL manifests', () => {
  it('reads strings and arrays, and marks a malformed line and wrong types invalid without stopping', async () => {
    const jsonl = [
      '{"file": "a/b.wav", "text": ["one", "two"], "tags": ["x", "y"], "licence": "CC0", "freesound_id": 12}',
      '',
      '{"file": "c.wav", "caption": "Näive", "tags": "t1, t2"}',
      '{"file": "d.wav", "caption": 5}',
      '{not json',
      '["an", "array"]',
      '{"location": "e.wav"}',
    ].join('\n');
    const items = await read('m.jsonl', `\uFEFF${jsonl}\n`);
    assert.equal(items.length, 6);
    const a = ok(items[0]);
    assert.deepEqual([a.line, a.file, a.captions, a.tags, a.license, a.extra], [1, 'a/b.wav', ['one', 'two'], ['x', 'y'], 'CC0', { freesound_id: 12 }]);
    const c = ok(items[1]);
    assert.deepEqual([c.line, c.captions, c.tags], [3, ['Näive'], ['t1', 't2']]);
    assert.match(invalid(items[2]).invalid, /^invalid manifest row at line 4: caption: expected a string or an array of strings \(got 5\)$/);
    assert.match(invalid(items[3]).invalid, /^invalid manifest row at line 5: not valid JSON .*\(got "\{not json"\)$/);
    assert.match(invalid(items[4]).invalid, /line 6: .*expected a JSON object/);
    assert.deepEqual([items[5]?.line, ok(items[5]).file], [7, 'e.wav']);
  });

  it('picks the format by extension, else by the first character', async () => {
    const json = join(dir, 'rows.json');
    await writeFile(json, '\uFEFF  {"file": "x.wav"}\n');
    assert.equal((await manifestFormat(json)).kind, 'jsonl');
    const txt = join(dir, 'rows.txt');
    await writeFile(txt, 'file\nx.wav\n');
    assert.equal((await manifestFormat(txt)).kind, 'csv');
  });
});
