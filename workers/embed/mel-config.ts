/**
 * CLAP's audio front end (LAION-CLAP `audio_cfg` for HTSAT, and HF's ClapFeatureExtractor defaults).
 * One place for the numbers, so features, the forge's preprocessor_config.json and the docs agree.
 */
export const CLAP_AUDIO = {
  sampleRate: 48_000,
  /** FFT size and (Hann) window length. */
  nFft: 1024,
  hop: 480,
  melBins: 64,
  fMin: 50,
  fMax: 14_000,
  /** 10 s: the window the encoder sees. */
  maxSamples: 480_000,
  /** Frames of a 10-s window with centred framing: maxSamples / hop + 1. */
  chunkFrames: 1001,
  /** Floor before 10·log10 (torchaudio AmplitudeToDB / librosa power_to_db amin). */
  amin: 1e-10,
} as const;

export type FilterBankKind = 'htk' | 'slaney';
export type Truncation = 'fusion' | 'rand_trunc';
