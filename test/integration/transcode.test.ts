import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFlacInfo } from '../../infra/audio/flac-info.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';
import { runFfmpeg } from '../../infra/ffmpeg/run-ffmpeg.ts';
import { transcodeBatch, type TranscodeOutcome, type TranscodeSuccess } from '../../workers/transcode/transcode-batch.ts';
import { truncationProblem } from '../../workers/transcode/truncation.ts';
import { makeTone, type ToneSpec } from '../../demo/providers/tone.ts';
import { makeTextAsWav, makeTruncated, makeZeroByte } from '../helpers/audio-fixtures.ts';

/** Encoder delay/padding leftovers: about one codec frame (AAC 1024, MP3 1152 samples). */
const DURATION_TOLERANCE_SEC = 0.03;

interface Good {
  name: string;
  spec: Omit<ToneSpec, 'ffmpegPath'>;
  source?: Partial<TranscodeSuccess['source']>;
}

const GOOD: Good[] = [
  { name: 'tone 44k stereo.wav', spec: { seconds: 2, sampleRate: 44100, channels: 2, format: 'wav', bitDepth: 16 }, source: { format: 'wav', codec: 'pcm_s16le', sampleRate: 44100, channels: 2, bitDepth: 16, durationSec: 2 } },
  { name: 'tone.aiff', spec: { seconds: 1.5, sampleRate: 22050, channels: 1, format: 'aiff' }, source: { format: 'aiff', codec: 'pcm_s16be', sampleRate: 22050, channels: 1, bitDepth: 16 } },
  { name: 'tone.flac', spec: { seconds: 1, sampleRate: 48000, channels: 2, format: 'flac', bitDepth: 24 }, source: { format: 'flac', codec: 'flac', sampleRate: 48000, channels: 2, bitDepth: 24 } },
  { name: 'tone.mp3', spec: { seconds: 2, sampleRate: 44100, channels: 2, format: 'mp3' }, source: { format: 'mp3', codec: 'mp3', sampleRate: 44100, channels: 2, bitDepth: null } },
  { name: 'tone.ogg', spec: { seconds: 2, sampleRate: 32000, channels: 1, format: 'ogg' }, source: { format: 'ogg', codec: 'vorbis', sampleRate: 32000, channels: 1, bitDepth: null } },
  { name: 'tone.m4a', spec: { seconds: 2, sampleRate: 44100, channels: 2, format: 'm4a' }, source: { codec: 'aac', sampleRate: 44100, channels: 2, bitDepth: null } },
  { name: 'tone 8-bit.wav', spec: { seconds: 1, sampleRate: 16000, channels: 1, format: 'wav', bitDepth: 8 }, source: { codec: 'pcm_u8', bitDepth: 8 } },
  { name: 'tone 32-bit.wav', spec: { seconds: 1, sampleRate: 48000, channels: 2, format: 'wav', bitDepth: 32 }, source: { codec: 'pcm_s32le', bitDepth: 32 } },
  { name: 'phone 8k mono.wav', spec: { seconds: 3, sampleRate: 8000, channels: 1, format: 'wav' }, source: { sampleRate: 8000, channels: 1 } },
  { name: 'surround 96k 6ch 24-bit.wav', spec: { seconds: 1, sampleRate: 96000, channels: 6, format: 'wav', bitDepth: 24 }, source: { codec: 'pcm_s24le', sampleRate: 96000, channels: 6, bitDepth: 24 } },
  { name: 'silence.wav', spec: { seconds: 1.25, sampleRate: 44100, channels: 1, format: 'wav', silent: true } },
  { name: 'über café — 日本語 テスト.wav', spec: { seconds: 1, sampleRate: 44100, channels: 1, format: 'wav' } },
  { name: 'several.dots.in.the.name.v2.final.mp3', spec: { seconds: 1, sampleRate: 44100, channels: 1, format: 'mp3' } },
  { name: "it's -dash concat:pipe|odd.ogg", spec: { seconds: 1, sampleRate: 44100, channels: 1, format: 'ogg' } },
];

describe('transcodeBatch (real ffmpeg)', () => {
  let ffmpeg = '';
  let root = '';
  let inDir = '';
  let counting = '';
  let runLog = '';
  const path = (name: string): string => join(inDir, name);

  before(async () => {
    ffmpeg = await locateFfmpeg();
    root = await mkdtemp(join(tmpdir(), 'clapset-transcode-'));
    inDir = join(root, 'in');
    await mkdir(inDir);
    // A wrapper that logs each start, to check how many ffmpeg processes a batch really took.
    runLog = join(root, 'runs.log');
    counting = join(root, 'ffmpeg-counting');
    await writeFile(counting, `#!/bin/sh\necho run >> '${runLog}'\nexec '${ffmpeg}' "$@"\n`, { mode: 0o755 });

    const make = (name: string, spec: Omit<ToneSpec, 'ffmpegPath'>): Promise<void> => makeTone(path(name), { ...spec, ffmpegPath: ffmpeg });
    await Promise.all([
      ...GOOD.map(({ name, spec }) => make(name, spec)),
      make('long.flac', { seconds: 3, sampleRate: 44100, channels: 2, format: 'flac' }),
      make('long.mp3', { seconds: 3, sampleRate: 44100, channels: 2, format: 'mp3' }),
      make('long.wav', { seconds: 3, sampleRate: 44100, channels: 2, format: 'wav' }),
      makeZeroByte(path('zero.wav')),
      makeTextAsWav(path('not audio.wav')),
      ffmpegOk(ffmpeg, ['-f', 'lavfi', '-i', 'testsrc=d=1', '-frames:v', '1', '-f', 'image2', `file:${path('picture.wav')}`]),
      // 10 channels and no channel mask: ffmpeg will not downmix this on its own.
      ffmpegOk(ffmpeg, ['-f', 'lavfi', '-i', `aevalsrc=${Array(10).fill('sin(440*2*PI*t)').join('|')}:s=16000:d=1`, '-c:a', 'pcm_s16le', `file:${path('ten channels.wav')}`]),
    ]);
    await makeTruncated(path('long.flac'), path('truncated.flac'), 0.5);
    await makeTruncated(path('long.mp3'), path('truncated.mp3'), 0.5);
    await makeTruncated(path('long.wav'), path('truncated.wav'), 0.5);
    await makeTruncated(path('long.flac'), path('header cut.flac'), 30 / (await stat(path('long.flac'))).size);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function outDir(name: string): Promise<string> {
    const dir = join(root, name);
    await mkdir(dir);
    return dir;
  }

  async function runs<T>(body: () => Promise<T>): Promise<{ result: T; runs: number }> {
    await rm(runLog, { force: true });
    const result = await body();
    const log = await readFile(runLog, 'utf8').catch(() => '');
    return { result, runs: log.split('\n').filter(Boolean).length };
  }

  async function assertGoodSample(outcome: TranscodeOutcome | undefined, seconds: number): Promise<TranscodeSuccess> {
    assert.ok(outcome?.ok, `expected success, got ${JSON.stringify(outcome)}`);
    const info = await readFlacInfo(outcome.outputPath);
    assert.equal(info.sampleRate, 48000);
    assert.equal(info.channels, 1);
    assert.equal(outcome.durationSec, info.totalSamples / 48000);
    assert.ok(Math.abs(outcome.durationSec - seconds) <= DURATION_TOLERANCE_SEC, `${outcome.id}: ${outcome.durationSec} s, expected ${seconds} s`);
    assert.equal(outcome.bytes, (await stat(outcome.outputPath)).size);
    return outcome;
  }

  it('turns every format into a 48 kHz mono FLAC of the right length, with one ffmpeg process', async () => {
    const out = await outDir('all-good');
    const { result, runs: count } = await runs(() =>
      transcodeBatch(
        GOOD.map(({ name }) => ({ id: name, path: path(name) })),
        out,
        { ffmpegPath: counting },
      ),
    );
    assert.equal(count, 1);
    assert.deepEqual(
      result.map((o) => o.id),
      GOOD.map((g) => g.name),
    );
    for (const [i, good] of GOOD.entries()) {
      const outcome = await assertGoodSample(result[i], good.spec.seconds);
      for (const [key, value] of Object.entries(good.source ?? {})) {
        assert.equal(outcome.source[key as keyof typeof outcome.source], value, `${good.name}: source.${key}`);
      }
    }
    assert.equal((await readdir(out)).length, GOOD.length);
  });

  it('gives each input of a mixed batch its own outcome, in order, and bad files fail alone', async (t) => {
    const out = await outDir('mixed');
    const names = [
      'tone 44k stereo.wav',
      'zero.wav',
      'not audio.wav',
      'tone.mp3',
      'header cut.flac',
      'does not exist.wav',
      'picture.wav',
      'truncated.flac',
      'silence.wav',
      'ten channels.wav',
      'truncated.mp3',
      'tone.m4a',
      'truncated.wav',
    ];
    const { result, runs: count } = await runs(() =>
      transcodeBatch(
        names.map((name) => ({ id: name, path: path(name) })),
        out,
        { ffmpegPath: counting },
      ),
    );
    t.diagnostic(`${count} ffmpeg processes for ${names.length} inputs`);
    assert.ok(count <= 7, `expected the batch to shed bad inputs, not run one process each (${count})`);
    assert.deepEqual(
      result.map((o) => o.id),
      names,
    );
    const byName = new Map(result.map((o) => [o.id, o]));
    const failure = (name: string) => {
      const outcome = byName.get(name);
      assert.ok(outcome && !outcome.ok, `${name} should fail: ${JSON.stringify(outcome)}`);
      return outcome;
    };

    await assertGoodSample(byName.get('tone 44k stereo.wav'), 2);
    await assertGoodSample(byName.get('tone.mp3'), 2);
    await assertGoodSample(byName.get('tone.m4a'), 2);
    await assertGoodSample(byName.get('silence.wav'), 1.25);
    const ten = await assertGoodSample(byName.get('ten channels.wav'), 1);
    assert.equal(ten.source.channels, 10);

    assert.deepEqual(failure('zero.wav'), { id: 'zero.wav', ok: false, reason: 'empty_file', message: 'the file is empty (0 bytes)' });
    assert.equal(failure('does not exist.wav').reason, 'missing_file');
    assert.deepEqual(failure('not audio.wav'), {
      id: 'not audio.wav',
      ok: false,
      reason: 'decode_error',
      message: 'ffmpeg could not read the file: Invalid data found when processing input',
    });
    assert.deepEqual(failure('picture.wav'), { id: 'picture.wav', ok: false, reason: 'decode_error', message: 'the file has no audio stream' });
    const headerCut = failure('header cut.flac');
    assert.equal(headerCut.reason, 'decode_error');
    assert.match(headerCut.message, /^ffmpeg could not read the file: /);

    // Cut-off files decode up to where they stop and ffmpeg exits 0; the declared duration (FLAC
    // STREAMINFO, MP3 bitrate estimate) is what catches them, so each must be flagged as truncated.
    for (const name of ['truncated.flac', 'truncated.mp3']) {
      const cut = await assertGoodSample(byName.get(name), (byName.get(name) as TranscodeSuccess).durationSec);
      assert.ok(cut.durationSec > 0.5 && cut.durationSec < 2.5, `${name}: ${cut.durationSec} s of 3 s`);
      assert.ok(Math.abs(cut.source.durationSec! - 3) < 0.1, `${name}: declared ${cut.source.durationSec} s`);
      assert.match(truncationProblem(cut)!, /^truncated: decoded \d\.\d\d s of the 3\.\d\d s its header declares$/, name);
    }

    // A cut WAV decodes to what is left, and ffmpeg estimates its duration from the file size; the
    // declared duration comes from the RIFF data chunk instead, so the clip is caught as truncated.
    const cutWav = await assertGoodSample(byName.get('truncated.wav'), 1.5);
    assert.ok(Math.abs(cutWav.source.durationSec! - 3) < 0.01, `declared ${cutWav.source.durationSec} s`);
    assert.match(truncationProblem(cutWav)!, /truncated: decoded 1\.\d+ s of the 3\.00 s its header declares/);
    const wholeWav = byName.get('tone 44k stereo.wav') as TranscodeSuccess;
    assert.ok(Math.abs(wholeWav.source.durationSec! - wholeWav.durationSec) < 0.01);
    assert.equal(truncationProblem(wholeWav), null);

    // Outputs of failed clips are removed; only successes are left for the caller.
    const kept = result.filter((o): o is TranscodeSuccess => o.ok).map((o) => basename(o.outputPath));
    assert.deepEqual((await readdir(out)).sort(), kept.sort());
  });

  it('reports a header-only WAV as empty_audio', async () => {
    const wav = path('header only.wav');
    await ffmpegOk(ffmpeg, ['-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=mono', '-t', '0', '-c:a', 'pcm_s16le', `file:${wav}`]);
    const [outcome] = await transcodeBatch([{ id: 'h', path: wav }], await outDir('header-only'), { ffmpegPath: ffmpeg });
    assert.deepEqual(outcome, { id: 'h', ok: false, reason: 'empty_audio', message: 'no audio could be decoded from the file (0 samples)' });
  });

  it('returns nothing for no inputs', async () => {
    assert.deepEqual(await transcodeBatch([], await outDir('none'), { ffmpegPath: ffmpeg }), []);
  });

  it('fails clips whose ffmpeg overruns the timeout, without failing the batch call', async () => {
    const inputs = [
      { id: 'a', path: path('tone.ogg') },
      { id: 'b', path: path('tone.m4a') },
    ];
    const result = await transcodeBatch(inputs, await outDir('timeout'), { ffmpegPath: ffmpeg, timeoutMs: 1 });
    for (const outcome of result) {
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok && outcome.reason === 'decode_error' && /did not finish within/.test(outcome.message));
    }
  });

  it('rejects, leaving no files, when it cannot write its outputs or is aborted', async () => {
    const inputs = [
      { id: 'a', path: path('tone.ogg') },
      { id: 'b', path: path('tone.mp3') },
    ];
    await assert.rejects(transcodeBatch(inputs, join(root, 'no such dir'), { ffmpegPath: ffmpeg }), /ffmpeg could not write its output/);
    const out = await outDir('aborted');
    await assert.rejects(transcodeBatch(inputs, out, { ffmpegPath: ffmpeg, signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.deepEqual(await readdir(out), []);
    await assert.rejects(transcodeBatch(inputs, out, { ffmpegPath: join(root, 'no-ffmpeg') }), /could not start ffmpeg/);
  });

  it('works the same with the @ffmpeg-installer binary (ffmpeg 4.x)', async () => {
    const installer = await locateFfmpeg(undefined, { env: { PATH: '' }, noCache: true, cacheDir: join(root, 'cache') });
    const names = ['tone 44k stereo.wav', 'not audio.wav', 'tone.m4a', 'picture.wav', 'ten channels.wav', 'surround 96k 6ch 24-bit.wav'];
    const result = await transcodeBatch(
      names.map((name) => ({ id: name, path: path(name) })),
      await outDir('installer'),
      { ffmpegPath: installer },
    );
    await assertGoodSample(result[0], 2);
    assert.deepEqual(result[1] && !result[1].ok && [result[1].reason, result[1].message], ['decode_error', 'ffmpeg could not read the file: Invalid data found when processing input']);
    await assertGoodSample(result[2], 2);
    assert.deepEqual(result[3] && !result[3].ok && result[3].message, 'the file has no audio stream');
    await assertGoodSample(result[4], 1);
    const surround = await assertGoodSample(result[5], 1);
    assert.deepEqual([surround.source.sampleRate, surround.source.channels, surround.source.bitDepth], [96000, 6, 24]);
  });

  it('transcodes a one-hour file with flat memory, in ffmpeg and in this process', async (t) => {
    // A wrapper samples ffmpeg's own peak RSS (VmHWM) while it runs: that is where a whole-file
    // buffer would show, not in the parent, which only reads the output's header.
    const peaks = join(root, 'ffmpeg-peaks.log');
    const sampling = join(root, 'ffmpeg-sampling');
    await writeFile(
      sampling,
      `#!/bin/sh\n'${ffmpeg}' "$@" & pid=$!\nhwm=0\nwhile kill -0 $pid 2>/dev/null; do\n  v=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null); [ -n "$v" ] && hwm=$v\n  sleep 0.02\ndone\nwait $pid; code=$?\necho $hwm >> '${peaks}'\nexit $code\n`,
      { mode: 0o755 },
    );
    const peakKb = async (id: string, file: string, seconds: number): Promise<{ kb: number; parentMb: number }> => {
      await makeTone(file, { seconds, sampleRate: 8000, channels: 1, format: 'wav', ffmpegPath: ffmpeg });
      await writeFile(peaks, '');
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
      let outcome: TranscodeOutcome | undefined;
      try {
        [outcome] = await transcodeBatch([{ id, path: file }], await outDir(id), { ffmpegPath: sampling });
      } finally {
        clearInterval(sampler);
      }
      const success = await assertGoodSample(outcome, seconds);
      assert.equal(success.source.durationSec, seconds);
      const kb = Math.max(...(await readFile(peaks, 'utf8')).trim().split('\n').map(Number));
      assert.ok(kb > 0, 'the wrapper saw ffmpeg run');
      return { kb, parentMb: (peak - before) / 2 ** 20 };
    };
    const short = await peakKb('ten seconds', path('ten seconds 8k.wav'), 10);
    const hour = await peakKb('hour', path('one hour 8k.wav'), 3600);
    t.diagnostic(`ffmpeg peak RSS: 10 s ${(short.kb / 1024).toFixed(1)} MB, 1 h ${(hour.kb / 1024).toFixed(1)} MB; parent grew ${hour.parentMb.toFixed(1)} MB`);
    // An hour at 48 kHz is ~330 MB of PCM; flat means the hour costs about what ten seconds cost.
    assert.ok(hour.kb < short.kb * 1.5 + 16 * 1024, `ffmpeg peak ${hour.kb} kB for 1 h vs ${short.kb} kB for 10 s`);
    assert.ok(hour.parentMb < 50, `this process grew ${hour.parentMb.toFixed(1)} MB`);
  });
});

async function ffmpegOk(ffmpeg: string, args: string[]): Promise<void> {
  const result = await runFfmpeg(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
  if (result.code !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${result.stderr}`);
}
