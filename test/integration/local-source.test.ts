import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import { localSourceSpecSchema } from '../../schemas/source-spec.ts';
import { createLocalSource, LocalSource } from '../../sources/local/local-source.ts';
import { ZipArchive } from '../../sources/local/zip-archive.ts';
import { createSource } from '../../sources/registry.ts';
import { byId, collectRecords, rejectsWith } from '../helpers/source-assertions.ts';

const LIMITS = { maxBytes: 10_000_000 };
let tmp: string;
let wavA: Buffer; // real WAVs, made by ffmpeg
let wavB: Buffer;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'clapset-local-'));
  wavA = tinyWav(440);
  wavB = tinyWav(880);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A 50 ms mono 8 kHz sine WAV from ffmpeg. */
function tinyWav(frequency: number): Buffer {
  return execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:duration=0.05`, '-ar', '8000', '-ac', '1', '-f', 'wav', 'pipe:1']);
}

async function put(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Writes a zip with exactly these entry names (Python's zipfile lets us write hostile ones). */
function makeZip(file: string, entries: [name: string, data: Buffer | string][]): void {
  const script = `
import base64, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    for name, data in json.load(sys.stdin):
        z.writestr(name, base64.b64decode(data))
`;
  const input = JSON.stringify(entries.map(([name, data]) => [name, Buffer.from(data).toString('base64')]));
  execFileSync('python3', ['-c', script, file], { input });
}




const spec = (root: string, extra: { name?: string; manifest?: string; license?: string } = {}) =>
  localSourceSpecSchema.parse({ type: 'local', name: 'bundle', root, ...extra });

describe('local source: folder', () => {
  let root: string;
  let outside: string;
  before(async () => {
    root = join(tmp, 'folder');
    outside = join(tmp, 'outside');
    await put(root, {
      'Door_Slam 02.wav': wavA,
      'a.b.c.wav': 'fake-audio',
      'a/x.WAV': wavB,
      'a b/y.flac': 'fake-flac',
      'Ünïcode_Folder/Ça_va.mp3': 'fake-mp3',
      'zz/\u{1F600} emoji.ogg': 'fake-ogg',
      'zz/\uE000 private.ogg': 'fake-ogg',
      'deep/er/still/file name.aiff': 'fake-aiff',
      'empty.wav': '',
      'notes.txt': 'not audio',
      '.hidden.wav': 'hidden',
      '.git/x.wav': 'hidden folder',
      '__MACOSX/._Door_Slam 02.wav': 'resource fork',
      'a/._x.WAV': 'AppleDouble',
    });
    await put(outside, { 'secret.wav': 'outside the root' });
    await symlink(join(root, 'a', 'x.WAV'), join(root, 'link-inside.wav'));
    await symlink(join(outside, 'secret.wav'), join(root, 'link-outside.wav'));
    await symlink(join(root, 'a'), join(root, 'linked-folder'));
    await symlink(join(root, 'gone.wav'), join(root, 'dangling.wav'));
  });

  it('lists every audio file once, in byte order of the relative path, skipping hidden files and escaping links', async () => {
    const records = await collectRecords(createLocalSource(spec(root, { license: 'Proprietary (purchased)' })));
    const expected = [
      'Door_Slam 02.wav',
      'a b/y.flac',
      'a.b.c.wav',
      'a/x.WAV',
      'deep/er/still/file name.aiff',
      'empty.wav',
      'link-inside.wav',
      'zz/\uE000 private.ogg',
      'zz/\u{1F600} emoji.ogg',
      'Ünïcode_Folder/Ça_va.mp3',
    ].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q)));
    assert.deepEqual(records.map((r) => r.id), expected);
    assert.deepEqual(byId(records, 'Door_Slam 02.wav'), {
      source: 'bundle',
      id: 'Door_Slam 02.wav',
      audio: 'file:Door_Slam 02.wav',
      text: ['Door Slam 02'],
      tags: [],
      license: 'Proprietary (purchased)',
      original: { path: 'Door_Slam 02.wav', size: wavA.length },
      bytes: wavA.length,
    });
    assert.deepEqual([byId(records, 'a.b.c.wav').text, byId(records, 'Ünïcode_Folder/Ça_va.mp3').tags], [['a.b.c'], ['Ünïcode Folder']]);
    assert.deepEqual(byId(records, 'deep/er/still/file name.aiff').tags, ['deep', 'er', 'still']);
    // Same listing on a second run: positional shards depend on it.
    assert.deepEqual((await collectRecords(createLocalSource(spec(root)))).map((r) => r.id), expected);
  });

  it('materialises a file in place (no copy) and release leaves it alone', async () => {
    const source = createLocalSource(spec(root));
    const records = await collectRecords(source);
    const work = await mkdtemp(join(tmp, 'work-'));
    const audio = await source.materialise(byId(records, 'a/x.WAV'), work, LIMITS);
    assert.equal(audio.path, join(root, 'a', 'x.WAV'));
    assert.deepEqual(await readFile(audio.path), wavB);
    await audio.release();
    assert.ok(existsSync(audio.path));
    assert.deepEqual(await readdir(work), []);
    // A symlink that stays inside the root is fine.
    assert.deepEqual(await readFile((await source.materialise(byId(records, 'link-inside.wav'), work, LIMITS)).path), wavB);
  });

  it('refuses empty and oversized files', async () => {
    const source = createLocalSource(spec(root));
    const records = await collectRecords(source);
    await rejectsWith(source.materialise(byId(records, 'empty.wav'), tmp, LIMITS), 'empty_file', /"empty\.wav" is empty/);
    await rejectsWith(source.materialise(byId(records, 'Door_Slam 02.wav'), tmp, { maxBytes: 100 }), 'too_large', /over the 100-byte limit/);
  });

  it('builds records from a CSV manifest and refuses rows that point outside, at escaping links, or at nothing', async () => {
    const manifest = join(tmp, 'manifest.csv');
    await writeFile(
      manifest,
      '\uFEFFfile,caption,tags,license,freesound_id\n' +
        'a/x.WAV,"A door, closing | ""Bang""","doors;wood",CC0,123\n' +
        'Door_Slam 02.wav,,,,\n' +
        '../../etc/passwd,x,,,\n' +
        `${join(root, 'a b', 'y.flac')},absolute inside,,,\n` +
        'link-outside.wav,escaping link,,,\n' +
        'missing/nowhere.wav,gone,,,\n' +
        'a,a folder,,,\n' +
        ',no file,,,\n',
    );
    const source = createLocalSource(spec(root, { manifest, license: 'Default-1.0' }));
    const records = await collectRecords(source);
    assert.deepEqual(records.map((r) => r.id), [
      'a/x.WAV',
      'Door_Slam 02.wav',
      '../../etc/passwd',
      'a b/y.flac',
      'link-outside.wav',
      'missing/nowhere.wav',
      'a',
      'manifest-line-9',
    ]);
    const first = records[0]!;
    assert.deepEqual([first.text, first.tags, first.license, first.original], [['A door, closing', '"Bang"'], ['doors', 'wood'], 'CC0', { freesound_id: '123', manifest_line: 2 }]);
    // No caption or tags in the row: the file-name rules fill in; the spec's licence applies.
    assert.deepEqual([records[1]!.text, records[1]!.tags, records[1]!.license], [['Door Slam 02'], [], 'Default-1.0']);
    assert.equal(records[3]!.audio, 'file:a b/y.flac');
    const bad = records[7]!;
    assert.match(bad.invalid ?? '', /^invalid manifest row at line 9: file: required/);
    assert.equal(bad.audio, 'invalid:manifest-line-9');

    const work = await mkdtemp(join(tmp, 'work-'));
    assert.deepEqual(await readFile((await source.materialise(first, work, LIMITS)).path), wavB);
    assert.equal(await readFile((await source.materialise(records[3]!, work, LIMITS)).path, 'utf8'), 'fake-flac');
    await rejectsWith(source.materialise(records[2]!, work, LIMITS), 'path_outside_collection', /etc\/passwd/);
    await rejectsWith(source.materialise(records[4]!, work, LIMITS), 'path_outside_collection', /symlink/);
    await rejectsWith(source.materialise(records[5]!, work, LIMITS), 'missing_file', /missing\/nowhere\.wav/);
    await rejectsWith(source.materialise(records[6]!, work, LIMITS), 'missing_file', /not a regular file/);
    await rejectsWith(source.materialise(bad, work, LIMITS), 'invalid_record', /line 9/);
  });

  it('refuses hand-made records that escape, dangle or use a foreign locator', async () => {
    const source = createLocalSource(spec(root));
    const record = (audio: string): ClipRecord => ({ source: 'bundle', id: audio, audio, text: [], tags: [], license: null, original: {} });
    await rejectsWith(source.materialise(record('file:a/../../outside/secret.wav'), tmp, LIMITS), 'path_outside_collection');
    await rejectsWith(source.materialise(record('file:/etc/passwd'), tmp, LIMITS), 'path_outside_collection');
    await rejectsWith(source.materialise(record('file:linked-folder/../../outside/secret.wav'), tmp, LIMITS), 'path_outside_collection');
    await rejectsWith(source.materialise(record('file:dangling.wav'), tmp, LIMITS), 'missing_file');
    await rejectsWith(source.materialise(record('zip:a/x.WAV'), tmp, LIMITS), 'invalid_record', /root is a folder/);
    await rejectsWith(source.materialise(record('http://x/y.wav'), tmp, LIMITS), 'invalid_record', /unrecognised audio locator/);
  });

  it('fails the whole source, not the clip, when the root is absent on this host', async () => {
    const source = createLocalSource(spec(join(tmp, 'not-mounted')));
    const record: ClipRecord = { source: 'bundle', id: 'a.wav', audio: 'file:a.wav', text: [], tags: [], license: null, original: {} };
    await assert.rejects(source.materialise(record, tmp, LIMITS), (error: unknown) => !(error instanceof ClipError) && /cannot read root/.test(String(error)));
    await assert.rejects(collectRecords(source), /cannot read root/);
  });
});

describe('local source: zip archive', () => {
  let zipPath: string;
  const big = Buffer.alloc(200_000, 7);
  before(() => {
    zipPath = join(tmp, 'bundle.zip');
    makeZip(zipPath, [
      ['Weather/Rain/rain_heavy.wav', wavA],
      ['Weather/', ''],
      ['Door_Slam 02.WAV', wavB],
      ['Weather/Thunder.flac', 'fake-flac'],
      ['Ünïcode/ça_va.mp3', 'fake-mp3'],
      ['Weather/big.wav', big],
      ['empty.wav', ''],
      ['readme.txt', 'not audio'],
      ['__MACOSX/Weather/._Thunder.flac', 'resource fork'],
      ['../evil.wav', 'escapes'],
      ['/abs/evil.wav', 'absolute'],
    ]);
  });

  it('lists audio entries sorted, folders as tags, hostile names kept (to be refused)', async () => {
    const records = await collectRecords(createLocalSource(spec(zipPath)));
    assert.deepEqual(records.map((r) => r.id), [
      '../evil.wav',
      '/abs/evil.wav',
      'Door_Slam 02.WAV',
      'Weather/Rain/rain_heavy.wav',
      'Weather/Thunder.flac',
      'Weather/big.wav',
      'empty.wav',
      'Ünïcode/ça_va.mp3',
    ]);
    const rain = byId(records, 'Weather/Rain/rain_heavy.wav');
    assert.deepEqual(
      [rain.audio, rain.text, rain.tags, rain.original],
      ['zip:Weather/Rain/rain_heavy.wav', ['rain heavy'], ['Weather', 'Rain'], { path: 'Weather/Rain/rain_heavy.wav', size: wavA.length }],
    );
  });

  it('extracts entries into the work dir byte for byte, and release deletes them', async () => {
    const source = createLocalSource(spec(zipPath));
    const records = await collectRecords(source);
    const work = await mkdtemp(join(tmp, 'work-'));
    const a = await source.materialise(byId(records, 'Weather/Rain/rain_heavy.wav'), work, LIMITS);
    const b = await source.materialise(byId(records, 'Door_Slam 02.WAV'), work, LIMITS);
    assert.equal(dirname(a.path), work);
    assert.match(a.path, /\.wav$/);
    assert.deepEqual(await readFile(a.path), wavA);
    assert.deepEqual(await readFile(b.path), wavB);
    assert.deepEqual(await readFile((await source.materialise(byId(records, 'Weather/big.wav'), work, LIMITS)).path), big);
    await a.release();
    await a.release(); // idempotent
    assert.ok(!existsSync(a.path));
    assert.ok(existsSync(b.path));
    await b.release();
  });

  it('refuses hostile names, missing, empty and oversized entries, leaving nothing behind', async () => {
    const source = createLocalSource(spec(zipPath));
    const records = await collectRecords(source);
    const work = await mkdtemp(join(tmp, 'zipwork-'));
    await rejectsWith(source.materialise(byId(records, '../evil.wav'), work, LIMITS), 'path_outside_collection');
    await rejectsWith(source.materialise(byId(records, '/abs/evil.wav'), work, LIMITS), 'path_outside_collection');
    await rejectsWith(source.materialise(byId(records, 'empty.wav'), work, LIMITS), 'empty_file');
    await rejectsWith(source.materialise(byId(records, 'Weather/big.wav'), work, { maxBytes: 1000 }), 'too_large', /200000 bytes/);
    const ghost: ClipRecord = { ...byId(records, 'empty.wav'), id: 'ghost.wav', audio: 'zip:ghost.wav' };
    await rejectsWith(source.materialise(ghost, work, LIMITS), 'missing_file', /ghost\.wav/);
    assert.deepEqual(await readdir(work), []);
    assert.ok(!existsSync(join(tmp, 'evil.wav')));
  });

  it('ZipArchive writes a ../ entry only where told, and caps bytes as they inflate', async () => {
    const archive = await ZipArchive.open(zipPath);
    const work = await mkdtemp(join(tmp, 'raw-'));
    try {
      const evil = archive.find('../evil.wav');
      assert.equal(evil?.name, '../evil.wav');
      const dest = join(work, 'chosen-name.bin');
      assert.equal(await archive.extract('../evil.wav', dest, LIMITS), 'escapes'.length);
      assert.deepEqual(await readdir(work), ['chosen-name.bin']);
      assert.ok(!existsSync(join(work, '..', 'evil.wav')));
      assert.ok(!existsSync(join(tmp, 'evil.wav')));

      // A header that under-reports the size must still be stopped by the stream cap.
      const info = archive.find('Weather/big.wav') as { size: number };
      info.size = 10;
      await rejectsWith(archive.extract('Weather/big.wav', join(work, 'big.bin'), { maxBytes: 50_000 }), 'too_large', /inflates past/);
      assert.ok(!existsSync(join(work, 'big.bin')));
    } finally {
      archive.close();
    }
  });

  it('maps JSONL manifest rows onto entries, with invalid lines kept as invalid records', async () => {
    const manifest = join(tmp, 'zip-manifest.jsonl');
    await writeFile(
      manifest,
      [
        '{"path": "./Weather/Rain/rain_heavy.wav", "text": ["Heavy rain", "Rain on leaves"], "tags": ["rain"], "license": "CC-BY-4.0"}',
        '{"path": "Weather\\\\Thunder.flac"}',
        '{"path": "Weather/nope.wav", "caption": "missing"}',
        '{"path": "../../etc/passwd"}',
        '{"path": "x.wav", "tags": 7}',
        '{oops',
      ].join('\n'),
    );
    const source = createLocalSource(spec(zipPath, { manifest }));
    const records = await collectRecords(source);
    assert.deepEqual(records.map((r) => [r.id, r.invalid !== undefined]), [
      ['Weather/Rain/rain_heavy.wav', false],
      ['Weather/Thunder.flac', false],
      ['Weather/nope.wav', false],
      ['../../etc/passwd', false],
      ['manifest-line-5', true],
      ['manifest-line-6', true],
    ]);
    assert.deepEqual([records[0]!.text, records[0]!.tags, records[0]!.license], [['Heavy rain', 'Rain on leaves'], ['rain'], 'CC-BY-4.0']);
    assert.deepEqual([records[1]!.text, records[1]!.tags, records[1]!.audio], [['Thunder'], ['Weather'], 'zip:Weather/Thunder.flac']);
    assert.match(records[4]!.invalid!, /line 5: tags: expected a string or an array of strings \(got 7\)/);
    assert.match(records[5]!.invalid!, /line 6: not valid JSON/);

    const work = await mkdtemp(join(tmp, 'work-'));
    const audio = await source.materialise(records[0]!, work, LIMITS);
    assert.deepEqual(await readFile(audio.path), wavA);
    await audio.release();
    await rejectsWith(source.materialise(records[2]!, work, LIMITS), 'missing_file');
    await rejectsWith(source.materialise(records[3]!, work, LIMITS), 'path_outside_collection');
  });
});

describe('source registry', () => {
  it('creates a local source from its spec', () => {
    const source = createSource(spec(tmp, { name: 'my-bundle' }));
    assert.ok(source instanceof LocalSource);
    assert.equal(source.name, 'my-bundle');
  });
});
