import type { BundleProvider } from '../../schemas/source-spec.ts';

/** What clapset knows about one purchased bundle: only used for defaults and documentation. */
export interface BundleProviderInfo {
  provider: BundleProvider;
  title: string;
  /**
   * Licence recorded on every clip unless the spec names one. These are labels, not legal advice:
   * the terms differ per bundle and edition and some forbid ML training, so the operator records
   * the terms of the copy they hold (`license` in the spec) and filters on it downstream.
   */
  defaultLicense: string;
  /** Clips and hours LAION-Audio-630K took from it (the paper's table). */
  laion: { clips: number; hours: number };
}

export const BUNDLE_PROVIDER_INFO: Readonly<Record<BundleProvider, BundleProviderInfo>> = {
  sonniss: {
    provider: 'sonniss',
    title: 'Sonniss GDC Game Audio Bundle',
    defaultLicense: 'Sonniss GDC bundle licence (check ML terms)',
    laion: { clips: 5049, hours: 84.6 },
  },
  'free-to-use-sounds': {
    provider: 'free-to-use-sounds',
    title: 'Free To Use Sounds',
    defaultLicense: 'Free To Use Sounds licence (purchased bundle; check ML terms)',
    laion: { clips: 6370, hours: 175.73 },
  },
  'we-sound-effects': {
    provider: 'we-sound-effects',
    title: 'We Sound Effects',
    defaultLicense: 'We Sound Effects licence (purchased bundle; check ML terms)',
    laion: { clips: 488, hours: 12.0 },
  },
  odeon: {
    provider: 'odeon',
    title: 'Odeon Cinematic Sound Effects (Paramount Motion)',
    defaultLicense: 'Paramount Motion Odeon licence (purchased bundle; check ML terms)',
    laion: { clips: 4420, hours: 19.49 },
  },
};
