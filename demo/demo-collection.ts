import { mkdir, rm, writeFile, copyFile, truncate, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { runFfmpeg } from '../infra/ffmpeg/run-ffmpeg.ts';

/** One generated clip: a lavfi sound rendered to a file the way a provider might have shipped it. */
interface DemoClip {
  path: string;
  /** lavfi source graph (mono); channels are upmixed with `-ac`. */
  sound: string;
  seconds: number;
  rate: number;
  channels: number;
  codec: string[];
}

const pcm = (bits: 8 | 16 | 24 | 32) => ['-c:a', bits === 8 ? 'pcm_u8' : `pcm_s${bits}le`];

/** A small, varied collection: formats, rates, channel counts, lengths under 1 s and over 10 s. */
export const DEMO_CLIPS: readonly DemoClip[] = [
  { path: 'Animals/Dog_bark_close.wav', sound: 'sine=f=420:beep_factor=6', seconds: 2.5, rate: 44100, channels: 2, codec: pcm(16) },
  { path: 'Animals/Cat meow (soft).mp3', sound: 'sine=f=660', seconds: 0.6, rate: 22050, channels: 1, codec: ['-c:a', 'libmp3lame', '-b:a', '64k'] },
  { path: 'Animals/Birds_dawn_chorus.ogg', sound: 'aevalsrc=sin(2*PI*(2000+800*sin(9*t))*t)', seconds: 7, rate: 48000, channels: 2, codec: ['-c:a', 'libvorbis'] },
  { path: 'Weather/Rain_on_tin_roof.flac', sound: 'anoisesrc=seed=1:c=pink:a=0.3', seconds: 12, rate: 96000, channels: 2, codec: ['-c:a', 'flac', '-sample_fmt', 's32'] },
  { path: 'Weather/Thunder.rumble.distant.ogg', sound: 'anoisesrc=seed=1:c=brown:a=0.5', seconds: 4, rate: 44100, channels: 2, codec: ['-c:a', 'libvorbis'] },
  { path: 'Weather/Wind_gusts.wav', sound: 'anoisesrc=seed=1:c=white:a=0.2', seconds: 11, rate: 22050, channels: 1, codec: pcm(16) },
  { path: 'Vehicles/Car_passing_by.m4a', sound: 'aevalsrc=0.4*sin(2*PI*(120+60*t)*t)', seconds: 6, rate: 44100, channels: 2, codec: ['-c:a', 'aac', '-b:a', '96k'] },
  { path: 'Vehicles/Train_horn.aiff', sound: 'sine=f=311', seconds: 1.5, rate: 32000, channels: 1, codec: ['-c:a', 'pcm_s16be'] },
  { path: 'Vehicles/Engine_idle_loop.wav', sound: 'aevalsrc=0.5*sin(2*PI*55*t)*sin(2*PI*3*t)', seconds: 14, rate: 48000, channels: 2, codec: pcm(24) },
  { path: 'Ambience/Café_crowd_murmur.wav', sound: 'anoisesrc=seed=1:c=pink:a=0.1', seconds: 3, rate: 96000, channels: 6, codec: pcm(24) },
  { path: 'Ambience/Room tone (silence).wav', sound: 'anullsrc=r=16000:cl=mono', seconds: 2, rate: 16000, channels: 1, codec: pcm(16) },
  { path: 'Ambience/Forest_stream.flac', sound: 'anoisesrc=seed=1:c=blue:a=0.15', seconds: 9, rate: 44100, channels: 2, codec: ['-c:a', 'flac'] },
  { path: 'Tones/Beep_short.wav', sound: 'sine=f=1000', seconds: 0.3, rate: 16000, channels: 1, codec: pcm(8) },
  { path: 'Tones/Sweep_long.flac', sound: 'aevalsrc=0.5*sin(2*PI*(100+400*t)*t)', seconds: 15, rate: 48000, channels: 1, codec: ['-c:a', 'flac'] },
  { path: 'Tones/Telephone_ring_8kHz.wav', sound: 'sine=f=440:beep_factor=2', seconds: 3, rate: 8000, channels: 1, codec: pcm(16) },
  { path: 'Tones/Float_chime.wav', sound: 'sine=f=880', seconds: 1.2, rate: 48000, channels: 2, codec: ['-c:a', 'pcm_f32le'] },
  { path: 'Household/Door_slam.wav', sound: 'anoisesrc=seed=1:c=brown:a=0.9:d=0.2', seconds: 0.8, rate: 44100, channels: 2, codec: pcm(16) },
  { path: 'Household/Kettle boiling.mp3', sound: 'anoisesrc=seed=1:c=white:a=0.3', seconds: 5, rate: 44100, channels: 2, codec: ['-c:a', 'libmp3lame', '-b:a', '128k'] },
  { path: 'Household/Clock_ticking.wav', sound: 'sine=f=2000:beep_factor=8', seconds: 10.5, rate: 32000, channels: 1, codec: pcm(32) },
  { path: 'Household/Long_field_recording.wav', sound: 'anoisesrc=seed=1:c=pink:a=0.05', seconds: 200, rate: 16000, channels: 1, codec: pcm(16) },
];

export const DEMO_CORRUPT = ['Corrupt/Empty_file.wav', 'Corrupt/Not_really_audio.wav', 'Corrupt/Truncated_recording.flac'] as const;

async function render(ffmpegPath: string, root: string, clip: DemoClip): Promise<void> {
  const out = join(root, clip.path);
  await mkdir(dirname(out), { recursive: true });
  // Seeded noise and bit-exact muxing (no random Ogg serials, no encoder tag drift): the same
  // collection, so the same shards, on every run.
  const result = await runFfmpeg(ffmpegPath, [
    '-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', clip.sound, '-t', String(clip.seconds),
    '-ar', String(clip.rate), '-ac', String(clip.channels), ...clip.codec,
    '-fflags', '+bitexact', '-flags:a', '+bitexact', out,
  ]);
  if (result.code !== 0) throw new Error(`could not generate ${clip.path}: ${result.stderr.trim()}`);
}

/**
 * Writes the demo collection under `root` (replacing it): every clip of DEMO_CLIPS plus three
 * corrupt files (empty, text named .wav, a FLAC cut in half). Two ffmpeg processes at a time.
 */
export async function generateDemoCollection(ffmpegPath: string, root: string): Promise<{ clips: number; corrupt: number }> {
  await rm(root, { recursive: true, force: true });
  const queue = [...DEMO_CLIPS];
  await Promise.all(
    [0, 1].map(async () => {
      for (let clip = queue.shift(); clip; clip = queue.shift()) await render(ffmpegPath, root, clip);
    }),
  );
  const [empty, text, truncated] = DEMO_CORRUPT;
  await mkdir(join(root, 'Corrupt'), { recursive: true });
  await writeFile(join(root, empty), '');
  await writeFile(join(root, text), 'This is a text file that claims to be a WAV.\n');
  const whole = join(root, 'Weather/Rain_on_tin_roof.flac');
  await copyFile(whole, join(root, truncated));
  await truncate(join(root, truncated), Math.floor((await stat(whole)).size / 2));
  return { clips: DEMO_CLIPS.length, corrupt: DEMO_CORRUPT.length };
}
