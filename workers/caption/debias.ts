/**
 * LAION's K2C de-biasing, applied to generated captions: gendered words become neutral ones
 * ("woman"/"man" → "person", "her"/"his" → "their"). Whole words only ("manner", "human", "hers"
 * stay), and the case of the original is kept ("Man" → "Person", "HIS" → "THEIR").
 * Plurals ("men", "women") are left alone: LAION's list had none, and "persons" would read oddly.
 */
const REPLACEMENTS: Readonly<Record<string, string>> = { woman: 'person', man: 'person', her: 'their', his: 'their' };
// Unicode-aware word edges, so "mané" or "hisŝ" are not split at a non-ASCII letter.
const WORD = /(?<![\p{L}\p{N}_])(woman|man|her|his)(?![\p{L}\p{N}_])/giu;

export function debiasCaption(caption: string): string {
  return caption.replace(WORD, (word) => matchCase(word, REPLACEMENTS[word.toLowerCase()] as string));
}

/** The replacement in the case pattern of `original`: all caps, capitalised, or lower case. */
function matchCase(original: string, replacement: string): string {
  if (original.length > 1 && original === original.toUpperCase()) return replacement.toUpperCase();
  if (original[0] !== undefined && original[0] === original[0].toUpperCase()) return replacement[0]?.toUpperCase() + replacement.slice(1);
  return replacement;
}
