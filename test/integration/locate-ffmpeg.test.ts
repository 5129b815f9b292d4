import assert from 'node:assert/strict';
import { access, constants, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clearFfmpegCache, ensureExecutable, locateFfmpeg } from '../../infra/ffmpeg/locate.ts';

// Prerequisites, not conditions: a machine without them fails here by name instead of skipping.
const SYSTEM_FFMPEG = await systemFfmpeg();
const INSTALLER_FFMPEG = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

/** The first executable `ffmpeg` on PATH (any folder, not only /usr/bin). */
async function systemFfmpeg(): Promise<string> {
  for (const folder of (process.env.PATH ?? '').split(delimiter).filter(isAbsolute)) {
    const candidate = join(folder, 'ffmpeg');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  throw new Error('these tests need ffmpeg on PATH (apt-get install ffmpeg; .ci/run installs it)');
}

describe('locateFfmpeg', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clapset-locate-'));
  });
  after(async () => {
    clearFfmpegCache();
    await rm(dir, { recursive: true, force: true });
  });

  it('uses FFMPEG_PATH when it runs', async () => {
    assert.equal(await locateFfmpeg({ ffmpegPath: SYSTEM_FFMPEG }, { noCache: true }), SYSTEM_FFMPEG);
    assert.equal(await locateFfmpeg(undefined, { env: { FFMPEG_PATH: SYSTEM_FFMPEG, PATH: '' }, noCache: true }), SYSTEM_FFMPEG);
  });

  it('refuses a FFMPEG_PATH that does not exist or is not ffmpeg, without falling back to PATH', async () => {
    const env = { PATH: dirname(SYSTEM_FFMPEG) };
    await assert.rejects(locateFfmpeg({ ffmpegPath: join(dir, 'nope') }, { env, noCache: true }), /FFMPEG_PATH is set to ".*nope", but it does not exist\. Point FFMPEG_PATH at a working ffmpeg/);
    const fake = join(dir, 'not-ffmpeg');
    await writeFile(fake, '#!/bin/sh\necho hello\n', { mode: 0o755 });
    await assert.rejects(locateFfmpeg({ ffmpegPath: fake }, { env, noCache: true }), /but it does not look like ffmpeg/);
    const failing = join(dir, 'failing');
    await writeFile(failing, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    await assert.rejects(locateFfmpeg({ ffmpegPath: failing }, { env, noCache: true }), /but it did not run \(Command failed/);
    await assert.rejects(locateFfmpeg({ ffmpegPath: dir }, { env, noCache: true }), /but it is not a file/);
  });

  it('finds ffmpeg on PATH, skipping missing and relative entries', async () => {
    const env = { PATH: [join(dir, 'missing'), 'relative/bin', dirname(SYSTEM_FFMPEG)].join(':') };
    assert.equal(await locateFfmpeg(undefined, { env, installerPath: () => null, noCache: true }), SYSTEM_FFMPEG);
  });

  it('falls back to the @ffmpeg-installer binary', async () => {
    const found = await locateFfmpeg(undefined, { env: { PATH: '' }, cacheDir: join(dir, 'cache'), noCache: true });
    assert.ok(found === INSTALLER_FFMPEG || basename(found) === basename(INSTALLER_FFMPEG), `${found} is the installer's binary or its executable copy`);
    await access(found, constants.X_OK);
  });

  it('makes a non-executable installer binary executable (npm 11 skips its postinstall chmod)', async () => {
    const binary = join(dir, 'installer-ffmpeg');
    await writeFile(binary, '#!/bin/sh\necho "ffmpeg version 0.0-test"\n', { mode: 0o644 });
    const found = await locateFfmpeg(undefined, { env: { PATH: '' }, installerPath: () => binary, cacheDir: join(dir, 'cache'), noCache: true });
    assert.equal(found, binary);
    assert.ok(((await stat(binary)).mode & 0o100) !== 0);
  });

  it('ensureExecutable uses an executable copy in the cache dir when it may not chmod in place', async () => {
    const binary = join(dir, 'read-only-ffmpeg');
    await writeFile(binary, '#!/bin/sh\necho "ffmpeg version 0.0-test"\n', { mode: 0o644 });
    const cacheDir = join(dir, 'copy-cache');
    const copy = await ensureExecutable(binary, cacheDir, { chmodInPlace: false });
    assert.notEqual(copy, binary);
    assert.ok(copy.startsWith(cacheDir));
    await access(copy, constants.X_OK);
    assert.equal((await stat(binary)).mode & 0o111, 0, 'the original is left alone');
    assert.equal(await ensureExecutable(binary, cacheDir, { chmodInPlace: false }), copy, 'the copy is reused');
    assert.deepEqual(await readdir(cacheDir), [basename(copy)], 'no partial files left behind');
  });

  it('explains how to get ffmpeg when there is none', async () => {
    await assert.rejects(
      locateFfmpeg(undefined, { env: { PATH: join(dir, 'empty') }, installerPath: () => null, noCache: true }),
      (error: Error) => {
        assert.match(error.message, /No working ffmpeg found/);
        assert.match(error.message, /apt-get install ffmpeg/);
        assert.match(error.message, /set FFMPEG_PATH/);
        return true;
      },
    );
  });

  it('caches the answer per process', async () => {
    clearFfmpegCache();
    const env = { PATH: dirname(SYSTEM_FFMPEG) };
    const first = locateFfmpeg(undefined, { env });
    assert.equal(locateFfmpeg(undefined, { env }), first);
    assert.equal(await first, SYSTEM_FFMPEG);
  });
});
