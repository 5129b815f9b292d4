import { SPLITS } from '../schemas/dataset.ts';
import type { ShardStats } from '../schemas/stats.ts';
import { availableSchemes, braceUrl, sizesLocation, type ShardUrlContext, type UrlScheme } from './shard-urls.ts';

/** Shard file names per split, as `sizes.json` lists them (finalise writes both from the same shard stats). */
export function shardNamesBySplit(shards: readonly ShardStats[]): Map<string, string[]> {
  const bySplit = new Map<string, string[]>();
  for (const split of SPLITS) {
    const names = shards.filter((s) => s.split === split).map((s) => s.tar);
    if (names.length > 0) bySplit.set(split, names);
  }
  return bySplit;
}

const HOW: Record<UrlScheme, string> = {
  path: 'From this folder (local paths; webdataset opens them directly):',
  'pipe-aws': 'From S3 with the AWS CLI (one `aws s3 cp <shard> -` per shard; credentials from the usual AWS environment, profile or role):',
  'pipe-s5cmd': 'From S3 with [s5cmd](https://github.com/peak/s5cmd) (same credentials; faster on many shards):',
  s3: '',
  https: 'Over HTTPS from the public copy (webdataset fetches `http(s)://` URLs with curl):',
};

// JSON string literals are valid Python string literals (the escapes \" \\ \n \uXXXX mean the same).
const py = (text: string) => JSON.stringify(text);

function webdatasetSnippet(url: string): string {
  return `\`\`\`python
import io, json
import soundfile as sf
import webdataset as wds

urls = ${py(url)}
dataset = wds.WebDataset(urls, shardshuffle=False).to_tuple("flac", "json")
for flac, meta in dataset:
    audio, sr = sf.read(io.BytesIO(flac))
    meta = json.loads(meta)
    print(meta["text"], sr, len(audio) / sr)
    break
\`\`\``;
}

/**
 * Hugging Face `datasets`' webdataset builder reads fsspec URLs (paths, https, s3 through s3fs),
 * not `pipe:` commands and not brace patterns, so the snippet expands them with braceexpand (a
 * webdataset dependency). FLAC stays undecoded so the print works with any audio backend.
 */
function huggingFaceSnippet(context: ShardUrlContext, names: Map<string, string[]>): string {
  const scheme: UrlScheme = context.publicUrl !== null ? 'https' : context.home.kind === 'local' ? 'path' : 's3';
  const files = [...names].map(([split, list]) => `    ${py(split)}: list(braceexpand(${py(braceUrl(context, scheme, split, list))})),`);
  const endpoint = scheme === 's3' && context.home.kind === 's3' ? context.home.endpoint : null;
  const options = endpoint === null ? '' : `, storage_options={"client_kwargs": {"endpoint_url": ${py(endpoint)}}}`;
  const first = [...names.keys()][0]!;
  return `\`\`\`python
import io
import soundfile as sf
from braceexpand import braceexpand  # installed with webdataset
from datasets import Audio, load_dataset

data_files = {
${files.join('\n')}
}
ds = load_dataset("webdataset", data_files=data_files, split=${py(first)}, streaming=True${options})
ds = ds.cast_column("flac", Audio(decode=False))
sample = next(iter(ds))
audio, sr = sf.read(io.BytesIO(sample["flac"]["bytes"]))
print(sample["json"]["text"], sr, len(audio) / sr)
\`\`\`

Needs \`pip install datasets soundfile braceexpand\`${scheme === 's3' ? ' and s3fs (for `s3://`)' : ''}. Columns: \`__key__\`, \`__url__\`, \`flac\`, \`json\` (decoded). The builder infers the
\`json\` schema from the first five samples; if sources with different \`original_data\` fields
share a split and loading stops at a cast error, use webdataset above.`;
}

/** The card's Shards and Loading sections: every URL from `shard-urls.ts`, each pattern naming exactly the shards of sizes.json. */
export function loadingSections(context: ShardUrlContext, shards: readonly ShardStats[]): string {
  const names = shardNamesBySplit(shards);
  if (names.size === 0) return '## Shards\n\nNo finished shards yet.\n';
  const schemes = availableSchemes(context);
  const [first, firstNames] = [...names][0]!;
  const samples = (split: string) => shards.filter((s) => s.split === split).reduce((n, s) => n + s.successes, 0);
  const table = [...names].map(([split, list]) => `| ${split} | ${list.length} | ${samples(split)} | \`${sizesLocation(context, schemes[0]!, split)}\` |`);
  const patterns = schemes.flatMap((scheme) => [...names.keys()].map((split) => `- ${split}, ${scheme}: \`${braceUrl(context, scheme, split, names.get(split)!)}\``));
  const snippets = schemes.filter((scheme) => scheme !== 's3').map((scheme) => `${HOW[scheme]}\n\n${webdatasetSnippet(braceUrl(context, scheme, first, firstNames))}`);
  return `## Shards

| split | shards | samples | sizes.json |
|---|---|---|---|
${table.join('\n')}

\`sizes.json\` maps each shard of its split to its sample count. LAION-CLAP's training loader reads it
from the shards' own folder (\`<datasetpath>/<name>/<split>/sizes.json\` with \`--datasetpath\`), so
keep it beside them when copying the dataset.${context.publicUrl === null ? '' : ` Public copy: \`${sizesLocation(context, 'https', first)}\` and so on.`}

Brace patterns (bash / Python \`braceexpand\` notation), each expanding to exactly the shards of
its split's sizes.json; \`clapset urls <dataset> --split <split> --scheme <scheme> [--list]\` prints
them, or one URL per shard:

${patterns.join('\n')}

## Loading with webdataset

Python's webdataset opens local paths, \`http(s)://\` URLs and \`pipe:\` commands (it has no \`s3://\`
handler). Each snippet (\`pip install webdataset soundfile\`, plus the AWS CLI or s5cmd for S3) reads
the ${first} split and prints the first sample's captions, sample rate and duration.

${snippets.join('\n\n')}

## Loading with Hugging Face datasets

${huggingFaceSnippet(context, names)}
`;
}
