import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasAudioExtension, isAudioPath, isSkippedName } from '../../sources/local/audio-files.ts';
import { captionFromPath, cleanLabel, tagsFromPath } from '../../sources/local/captions.ts';
import { formatLocator, parseLocator } from '../../sources/local/locator.ts';
import { compareUtf8, isInsideCollection, normaliseCollectionPath } from '../../sources/local/paths.ts';

describe('captions from file names', () => {
  it('drops the last extension, turns _ into spaces, collapses whitespace', () => {
    assert.equal(captionFromPath('Door_Slam 02.wav'), 'Door Slam 02');
    assert.equal(captionFromPath('a.b.c.wav'), 'a.b.c');
    assert.equal(captionFromPath('Foley/Steps/__Wood__floor   slow_.WAV'), 'Wood floor slow');
    assert.equal(captionFromPath('no-extension'), 'no-extension');
    assert.equal(captionFromPath('dir/Tab\there.flac'), 'Tab here');
  });

  it('normalises to NFC so macOS (NFD) names give the same caption', () => {
    assert.equal(captionFromPath('Cafe\u0301_bell.wav'), 'Caf\u00e9 bell');
  });

  it('tags are the cleaned folder names, deduplicated, empties and dot segments dropped', () => {
    assert.deepEqual(tagsFromPath('Nature_Sounds/Birds/Birds/x.wav'), ['Nature Sounds', 'Birds']);
    assert.deepEqual(tagsFromPath('x.wav'), []);
    assert.deepEqual(tagsFromPath('___/  /a  b/x.wav'), ['a b']);
    assert.deepEqual(tagsFromPath('../evil/x.wav'), ['evil']);
    // Folders keep their dots: only file names have an extension to drop.
    assert.deepEqual(tagsFromPath('Vol.2/x.wav'), ['Vol.2']);
  });

  it('cleanLabel trims and collapses', () => {
    assert.equal(cleanLabel('  a__b \n c '), 'a b c');
  });
});

describe('audio file names', () => {
  it('knows the audio extensions, case-insensitively', () => {
    for (const name of ['a.wav', 'a.WAVE', 'a.aif', 'a.AIFF', 'a.aifc', 'a.flac', 'a.mp3', 'a.ogg', 'a.oga', 'a.opus', 'a.m4a', 'a.mp4', 'a.aac', 'a.wma', 'a.webm', 'a.caf', 'a.W64']) {
      assert.ok(hasAudioExtension(name), name);
    }
    for (const name of ['a.txt', 'wav', 'a.wav.txt', 'a.mid', '.wav']) assert.ok(!hasAudioExtension(name), name);
  });

  it('skips hidden files and __MACOSX', () => {
    assert.ok(isSkippedName('.DS_Store'));
    assert.ok(isSkippedName('__MACOSX'));
    assert.ok(isAudioPath('a/b c/d.wav'));
    assert.ok(!isAudioPath('__MACOSX/a/._d.wav'));
    assert.ok(!isAudioPath('a/._d.wav'));
    assert.ok(!isAudioPath('.git/d.wav'));
    assert.ok(!isAudioPath('a/readme.txt'));
    // A hostile `../x.wav` is listed, so that it gets refused and counted rather than silently lost.
    assert.ok(isAudioPath('../evil.wav'));
  });
});

describe('collection paths', () => {
  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    const names = ['\u{1F600}.wav', '\uE000.wav', 'a b', 'a.b', 'a/', 'Z', '\u00dc'];
    assert.deepEqual(
      [...names].sort(compareUtf8),
      [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
    assert.deepEqual([...names].sort(compareUtf8), ['Z', 'a b', 'a.b', 'a/', '\u00dc', '\uE000.wav', '\u{1F600}.wav']);
    assert.equal(compareUtf8('ab', 'ab'), 0);
    assert.ok(compareUtf8('ab', 'abc') < 0);
  });

  it('normalises separators and dots and tells escaping paths apart', () => {
    assert.equal(normaliseCollectionPath('./a//b/../c.wav'), 'a/c.wav');
    assert.equal(normaliseCollectionPath('a\\b\\c.wav'), 'a/b/c.wav');
    assert.equal(normaliseCollectionPath('a/b/'), 'a/b');
    assert.ok(isInsideCollection('a/c.wav'));
    for (const raw of ['../../etc/passwd', 'a/../../x', '/etc/passwd', 'C:/x.wav', '..', '.', '']) {
      assert.ok(!isInsideCollection(normaliseCollectionPath(raw)), raw);
    }
  });
});

describe('audio locators', () => {
  it('round-trip, the path taken raw after the first colon', () => {
    assert.equal(formatLocator('zip', 'a/b: c.wav'), 'zip:a/b: c.wav');
    assert.deepEqual(parseLocator('zip:a/b: c.wav'), { kind: 'zip', path: 'a/b: c.wav' });
    assert.deepEqual(parseLocator('file:x.wav'), { kind: 'file', path: 'x.wav' });
    assert.equal(parseLocator('s3:x.wav'), null);
    assert.equal(parseLocator('file:'), null);
    assert.equal(parseLocator('x.wav'), null);
  });
});
