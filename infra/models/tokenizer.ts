/**
 * A model folder's tokenizer, offline, through the project's one tokenizer library:
 * `@huggingface/tokenizers` (the tokenizer.json runtime that transformers.js' AutoTokenizer wraps —
 * transformers.js builds its PreTrainedTokenizer as `new Tokenizer(tokenizer.json, tokenizer_config.json)`
 * and reads the pad token from the config the same way, falling back to the EOS token). Reading
 * the two files by path means nothing can be downloaded and no process-global setting is shared.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface FolderTokenizer {
  /** Ids with the model's special tokens (`<s> … </s>`, `… </s>`), at most `maxLength`, the closing token kept. */
  encode(text: string): number[];
  /** Text of ids, special tokens skipped, tokenisation spaces cleaned up, trimmed. */
  decode(ids: readonly number[]): string;
  readonly padId: number;
  readonly maxLength: number;
}

/** `pad_token` as a string or as a serialised AddedToken (`{ content: "<pad>", … }`). */
function tokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return null;
}

/**
 * Loads `<dir>/tokenizer.json` and `<dir>/tokenizer_config.json`. `maxLength` caps encodings
 * (CLAP: 77, LAION-CLAP's); by default the config's `model_max_length`.
 */
export async function loadFolderTokenizer(dir: string, options: { maxLength?: number } = {}): Promise<FolderTokenizer> {
  const [json, configText] = await Promise.all([readFile(join(dir, 'tokenizer.json'), 'utf8'), readFile(join(dir, 'tokenizer_config.json'), 'utf8')]);
  const config = JSON.parse(configText) as Record<string, unknown>;
  const tokenizer = new Tokenizer(JSON.parse(json) as object, config);
  const padName = tokenName(config.pad_token) ?? tokenName(config.eos_token);
  const padId = padName === null ? undefined : tokenizer.token_to_id(padName);
  if (padId === undefined) throw new Error(`${dir}/tokenizer_config.json names no pad token the vocabulary has (pad_token ${JSON.stringify(config.pad_token)})`);
  // Hub configs write 1e30 (VERY_LARGE_INTEGER) for "no limit".
  const configured = typeof config.model_max_length === 'number' && config.model_max_length < 1e6 ? config.model_max_length : Infinity;
  const maxLength = options.maxLength ?? configured;
  return {
    padId,
    maxLength,
    encode(text) {
      const ids = tokenizer.encode(text).ids;
      return ids.length <= maxLength ? ids : [...ids.slice(0, maxLength - 1), ids[ids.length - 1]!];
    },
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: true }).trim(),
  };
}

/** Rows padded with `padId` to the longest of them (not to a fixed length: short batches cost less), with the mask of real tokens. */
export function padRows(rows: readonly (readonly number[])[], padId: number): { ids: BigInt64Array; mask: BigInt64Array; length: number } {
  const length = Math.max(1, ...rows.map((ids) => ids.length));
  const ids = new BigInt64Array(rows.length * length).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * length);
  rows.forEach((row, r) =>
    row.forEach((id, c) => {
      ids[r * length + c] = BigInt(id);
      mask[r * length + c] = 1n;
    }),
  );
  return { ids, mask, length };
}
