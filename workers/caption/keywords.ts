/**
 * A clip's tags as K2C keywords: Unicode-normalised, underscores as spaces (LAION's rule for file-name
 * captions), whitespace collapsed; empty, symbol-only and over-long tags dropped (an over-long "tag"
 * is usually a sentence or junk, and would swamp the prompt); case-insensitive duplicates dropped,
 * keeping the first spelling. Order is kept: the prompt follows the provider's tag order.
 */
export interface KeywordOptions {
  /** Longest keyword kept, in characters (default 40). */
  maxKeywordLength?: number;
  /** Keep at most this many keywords (default: all). */
  maxKeywords?: number;
}

export const DEFAULT_MAX_KEYWORD_LENGTH = 40;

const CONTROL = /[\p{Cc}\p{Cf}]/gu;
const HAS_WORD = /[\p{L}\p{N}]/u;

export function cleanKeywords(tags: readonly string[], options: KeywordOptions = {}): string[] {
  const maxLength = options.maxKeywordLength ?? DEFAULT_MAX_KEYWORD_LENGTH;
  const maxCount = options.maxKeywords ?? Infinity;
  const seen = new Set<string>();
  const keywords: string[] = [];
  for (const tag of tags) {
    if (keywords.length >= maxCount) break;
    const keyword = tag.normalize('NFKC').replace(CONTROL, ' ').replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
    if (keyword === '' || !HAS_WORD.test(keyword) || [...keyword].length > maxLength) continue;
    const key = keyword.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    keywords.push(keyword);
  }
  return keywords;
}

/** The T5 prompt: CommonGen models (keytotext) take the keywords joined by spaces. */
export function keywordPrompt(keywords: readonly string[]): string {
  return keywords.join(' ');
}
