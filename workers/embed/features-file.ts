import { type DecodePcmOptions, decodePcm } from '../../infra/audio/decode-pcm.ts';
import { encodeNpy } from '../../infra/npy.ts';
import { type ClipFeatureOptions, type ClipFeatures, clipFeatures } from './fusion.ts';
import { CLAP_AUDIO } from './mel-config.ts';

export interface FileFeatures {
  /** `.npy` bytes of the (views, 1001, 64) float32 features — what `clapset features --out` writes. */
  npy: Buffer;
  features: ClipFeatures;
  /** Seconds of decoded audio. */
  duration: number;
}

/**
 * CLAP input features of an audio file (any format ffmpeg reads; a clapset FLAC is already 48 kHz
 * mono): decode to 48 kHz mono float32, then `clipFeatures`. The core of `clapset features`.
 */
export async function featuresForFile(
  path: string,
  options: ClipFeatureOptions & Pick<DecodePcmOptions, 'ffmpegPath' | 'signal' | 'timeoutMs'>,
  /** Where the features are computed (a worker-thread pool: workers/embed/feature-pool.ts); default in this thread. */
  compute: (pcm: Float32Array, options: ClipFeatureOptions) => ClipFeatures | Promise<ClipFeatures> = clipFeatures,
): Promise<FileFeatures> {
  const { truncation, filterBank, seed, ...decode } = options;
  const pcm = await decodePcm(path, { ...decode, sampleRate: CLAP_AUDIO.sampleRate });
  if (pcm.length === 0) throw new Error(`${path} decodes to no audio samples`);
  const features = await compute(pcm, { truncation, filterBank, seed });
  return { npy: encodeNpy(features.data, features.shape), features, duration: pcm.length / CLAP_AUDIO.sampleRate };
}
