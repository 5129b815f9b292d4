import type { SourceSpec } from '../schemas/source-spec.ts';
import { createLocalSource } from './local/local-source.ts';
import type { Source } from './source.ts';

/** The one place source adapters are registered: a spec's `type` picks the adapter. */
export function createSource(spec: SourceSpec): Source {
  switch (spec.type) {
    case 'local':
      return createLocalSource(spec);
    default: {
      const unknown: never = spec.type;
      throw new Error(`unknown source type ${String(unknown)}`);
    }
  }
}
