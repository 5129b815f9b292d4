import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodePcm } from '../../infra/audio/decode-pcm.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { runFfmpeg } from '../../infra/ffmpeg/run-ffmpeg.ts';
import { decodeNpy } from '../../infra/npy.ts';
import { featuresForFile } from '../../workers/embed/features-file.ts';
import { clipFeatures } from '../../workers/embed/fusion.ts';

/** Real ffmpeg: FLAC (and other formats) → 48 kHz mono float32 → CLAP features → .npy bytes. */

let root: string;
let ffmpeg: string;

async function sweep(path: string, seconds: number, rate: number, channels: number, codec: string[]): Promise<void> {
  const result = await runFfmpeg(ffmpeg, [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `aevalsrc=0.4*sin(2*PI*(200+300*t)*t):s=${rate}:d=${seconds}`,
    '-ac', String(channels), ...codec, `file:${path}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
}

before(async () => {
  ffmpeg = await locateFfmpeg();
  root = await mkdtemp(join(tmpdir(), 'clapset-embed-file-'));
});
after(async () => rm(root, { recursive: true, force: true }));

describe('decodePcm', () => {
  test('48 kHz mono FLAC decodes sample-exactly to float32', async () => {
    const path = join(root, 'a.flac');
    await sweep(path, 2.5, 48_000, 1, ['-c:a', 'flac', '-sample_fmt', 's32']);
    const pcm = await decodePcm(path, { ffmpegPath: ffmpeg });
    assert.equal(pcm.length, 120_000);
    const peak = pcm.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(peak > 0.39 && peak < 0.41, `peak ${peak}`);
  });

  test('other rates and layouts are resampled and downmixed', async () => {
    const path = join(root, 'b.wav');
    await sweep(path, 1, 44_100, 2, ['-c:a', 'pcm_s16le']);
    const pcm = await decodePcm(path, { ffmpegPath: ffmpeg });
    assert.ok(Math.abs(pcm.length - 48_000) <= 2, `${pcm.length} samples`);
  });

  test('a file that is not audio, and a name that looks like a protocol, fail cleanly', async () => {
    await assert.rejects(decodePcm(join(root, 'missing.flac'), { ffmpegPath: ffmpeg }), /could not decode .*missing\.flac/);
    await assert.rejects(decodePcm('concat:/etc/passwd|/etc/hosts', { ffmpegPath: ffmpeg }), /could not decode/);
  });

  test('output past maxSeconds is refused', async () => {
    const path = join(root, 'c.flac');
    await sweep(path, 3, 48_000, 1, ['-c:a', 'flac']);
    await assert.rejects(decodePcm(path, { ffmpegPath: ffmpeg, maxSeconds: 1 }), /more than 1 s/);
  });
});

describe('featuresForFile', () => {
  test('a 12-s FLAC: fusion features as .npy, equal to decode + clipFeatures', async () => {
    const path = join(root, 'long.flac');
    await sweep(path, 12, 48_000, 1, ['-c:a', 'flac']);
    const options = { truncation: 'fusion', filterBank: 'htk', seed: 99 } as const;
    const { npy, features, duration } = await featuresForFile(path, { ...options, ffmpegPath: ffmpeg });
    assert.equal(duration, 12);
    assert.equal(features.longer, true);
    const decoded = decodeNpy(npy);
    assert.deepEqual(decoded.shape, [4, 1001, 64]);
    assert.deepEqual(decoded.data, clipFeatures(await decodePcm(path, { ffmpegPath: ffmpeg }), options).data);
  });

  test('rand_trunc of a short clip', async () => {
    const path = join(root, 'short.flac');
    await sweep(path, 1.5, 48_000, 1, ['-c:a', 'flac']);
    const { npy, features } = await featuresForFile(path, { truncation: 'rand_trunc', filterBank: 'slaney', seed: 1, ffmpegPath: ffmpeg });
    assert.equal(features.longer, false);
    assert.deepEqual(decodeNpy(npy).shape, [1, 1001, 64]);
  });
});

describe('ClapEmbedder.featuresOfFile', () => {
  test('a staged FLAC straight to embeddings with the checkpoint\'s settings', async () => {
    const { forgeTinyClap } = await import('../../demo/forge/clap.ts');
    const { ClapEmbedder } = await import('../../workers/embed/clap-embedder.ts');
    const dir = join(root, 'tiny-fused');
    await forgeTinyClap(dir, { seed: 3, fused: true });
    const embedder = await ClapEmbedder.load(dir, { threads: 1 });
    try {
      const path = join(root, 'staged.flac');
      await sweep(path, 14, 48_000, 1, ['-c:a', 'flac']);
      const { features } = await embedder.featuresOfFile(path, 'demo-abc', { ffmpegPath: ffmpeg });
      assert.deepEqual(features.shape, [4, 1001, 64]);
      assert.equal(features.longer, true);
      const [embedding] = await embedder.embedAudio([features]);
      assert.equal(embedding!.length, 512);
    } finally {
      await embedder.close();
    }
  });
});
