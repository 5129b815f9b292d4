/**
 * The caption LAION wrote when no model is involved: "the sounds of a, b, and c." — keywords joined
 * with ", " and ", and " before the last (so two read "a, and b"). Used when no caption model is
 * configured; its provenance says `template`, so it is never mistaken for a T5 caption.
 */
import { debiasCaption } from './debias.ts';
import type { Captioner, CaptionProvenance } from './captioner-types.ts';

export const TEMPLATE = 'the sounds of {keywords}.';

export function templateCaption(keywords: readonly string[]): string {
  if (keywords.length === 0) throw new Error('the template caption needs at least one keyword');
  const joined = keywords.length === 1 ? (keywords[0] as string) : `${keywords.slice(0, -1).join(', ')}, and ${keywords[keywords.length - 1]}`;
  return TEMPLATE.replace('{keywords}', joined);
}

export function createTemplateCaptioner(options: { debias?: boolean } = {}): Captioner {
  const debias = options.debias ?? true;
  const provenance: CaptionProvenance = {
    captioner: 'template',
    model: null,
    template: TEMPLATE,
    generation: null,
    debias,
  };
  return {
    id: 'template',
    provenance,
    caption: async (keywordLists) => keywordLists.map((keywords) => {
      const caption = templateCaption(keywords);
      return debias ? debiasCaption(caption) : caption;
    }),
    close: async () => {},
  };
}
