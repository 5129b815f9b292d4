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

/**
 * The T5 inputs for one keyword list, exactly as LAION's keytotext call built them
 * (`pipeline("mrm8488/t5-base-finetuned-common_gen")` → keytotext/models.py `NMPipeline`):
 * `str(keywords)` — Python's list repr — with `,` turned into spaces and `'`, `[`, `]` removed,
 * split at every `.`, each segment followed by ` </s>` (the tokenizer then adds its own `</s>`).
 * Each segment is captioned on its own and the captions are joined: a tag such as `p.a.` gives
 * several sentences, as in LAION's Epidemic data card (`"p vs wrestling … a teddy bear … a loop …"`).
 */
export function keytotextInputs(keywords: readonly string[]): string[] {
  const text = `[${keywords.map(pythonRepr).join(', ')}]`.replace(/,/g, ' ').replace(/['[\]]/g, '');
  return text.split('.').map((segment) => `${segment} </s>`);
}

/** Python 3's `repr(str)` for printable text: single quotes unless the text has `'` and no `"`. */
function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  return quote + text.replace(/\\/g, '\\\\').replaceAll(quote, `\\${quote}`) + quote;
}
