/**
 * The caption stage's per-clip rules around a Captioner, and the sample-JSON update:
 *  - K2C is skipped for clips shorter than 2 s (LAION's rule), for clips without usable tags, and
 *    when the model generates an empty sentence;
 *  - `text_augment_t5` holds the generated caption, `text_augment_all` the original captions plus it;
 *    a skipped clip gets `text_augment_t5: null` and `text_augment_all` = its captions, which is what
 *    CLAP's loader expects (it falls back to `text` when text_augment_t5 is None).
 */
import { cleanKeywords, type KeywordOptions } from './keywords.ts';
import type { Captioner, CaptionProvenance } from './captioner-types.ts';

export const MIN_CAPTION_DURATION_S = 2;

export interface CaptionInput {
  text: readonly string[];
  tags: readonly string[];
  /** Seconds (measured from the transcoded audio). */
  duration: number;
}

/** too_short: under 2 s; no_keywords: no usable tag; empty_caption: the model produced nothing. */
export type SkipReason = 'too_short' | 'no_keywords' | 'empty_caption';

export type CaptionOutcome =
  | { status: 'captioned'; caption: string; keywords: string[] }
  | { status: 'skipped'; reason: SkipReason };

export interface CaptionClipsOptions {
  minDurationSec?: number;
  keywords?: KeywordOptions;
}

/** Which clips get a caption and from which keywords: pure, so the processor and tests share it. */
export function planCaptions(clips: readonly CaptionInput[], options: CaptionClipsOptions = {}): ({ keywords: string[] } | { skipped: SkipReason })[] {
  const minDuration = options.minDurationSec ?? MIN_CAPTION_DURATION_S;
  return clips.map((clip) => {
    if (!(clip.duration >= minDuration)) return { skipped: 'too_short' as const };
    const keywords = cleanKeywords(clip.tags, options.keywords);
    return keywords.length === 0 ? { skipped: 'no_keywords' as const } : { keywords };
  });
}

/** Captions a batch of clips in one captioner call (the captioner batches internally). */
export async function captionClips(captioner: Captioner, clips: readonly CaptionInput[], options: CaptionClipsOptions = {}): Promise<CaptionOutcome[]> {
  const plan = planCaptions(clips, options);
  const wanted = plan.flatMap((entry) => ('keywords' in entry ? [entry.keywords] : []));
  const captions = wanted.length === 0 ? [] : await captioner.caption(wanted);
  let next = 0;
  return plan.map((entry) => {
    if ('skipped' in entry) return { status: 'skipped', reason: entry.skipped };
    const caption = captions[next++];
    if (caption === undefined) throw new Error(`captioner returned ${captions.length} captions for ${wanted.length} clips`);
    if (caption.trim() === '') return { status: 'skipped', reason: 'empty_caption' };
    return { status: 'captioned', caption: caption.trim(), keywords: entry.keywords };
  });
}

export interface CaptionFields {
  text_augment_t5: string[] | null;
  text_augment_all: string[];
  caption_provenance: CaptionProvenance & { status: 'captioned' | 'skipped'; skipped_reason?: SkipReason };
}

/** The sample JSON with its caption fields set (a new object; `outcome` may be a bare caption). */
export function applyCaptions<T extends { text: readonly string[] }>(sample: T, outcome: CaptionOutcome | string, provenance: CaptionProvenance): Omit<T, keyof CaptionFields> & CaptionFields {
  const result: CaptionOutcome = typeof outcome === 'string' ? { status: 'captioned', caption: outcome, keywords: [] } : outcome;
  if (result.status === 'captioned') {
    const caption = result.caption.trim();
    if (caption === '') throw new Error('refusing to store an empty caption');
    return {
      ...sample,
      text_augment_t5: [caption],
      text_augment_all: [...sample.text, caption],
      caption_provenance: { ...provenance, status: 'captioned' },
    };
  }
  return {
    ...sample,
    text_augment_t5: null,
    text_augment_all: [...sample.text],
    caption_provenance: { ...provenance, status: 'skipped', skipped_reason: result.reason },
  };
}
