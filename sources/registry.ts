import type { SourceSpec } from '../schemas/source-spec.ts';
import { createBundleSource } from './bundle/bundle-source.ts';
import { createLocalSource } from './local/local-source.ts';
import { requireContext, type Source, type SourceContext } from './source.ts';
import { createAudiostockSource } from './audiostock/audiostock-source.ts';
import { createBbcSource } from './bbc/bbc-source.ts';
import { createEpidemicSource } from './epidemic/epidemic-source.ts';
import { createFreesoundSource } from './freesound/freesound-source.ts';

/** The one place source adapters are registered: a spec's `type` picks the adapter. */
export function createSource(spec: SourceSpec, context?: SourceContext): Source {
  switch (spec.type) {
    case 'local':
      return createLocalSource(spec);
    case 'sonniss':
    case 'free-to-use-sounds':
    case 'we-sound-effects':
    case 'odeon':
      return createBundleSource(spec, context);
    case 'freesound':
      return createFreesoundSource(spec, requireContext(spec, context));
    case 'bbc':
      return createBbcSource(spec, requireContext(spec, context));
    case 'epidemic':
      return createEpidemicSource(spec, requireContext(spec, context));
    case 'audiostock':
      return createAudiostockSource(spec, requireContext(spec, context));
    default: {
      const unknown: never = spec;
      throw new Error(`unknown source type ${String((unknown as { type?: unknown }).type)}`);
    }
  }
}
