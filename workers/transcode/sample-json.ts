import type { ClipRecord } from '../../schemas/clip.ts';
import { parseOrThrow } from '../../schemas/parse.ts';
import { sampleJsonSchema, type SampleJson } from '../../schemas/sample.ts';

export interface TranscodedAudio {
  durationSec: number;
  source: { format: string | null; codec: string | null; sampleRate: number | null; channels: number | null };
}

/** The `<key>.json` member: LAION's keys (`text`, `tag`, `original_data`) plus provenance and audio facts. */
export function buildSampleJson(key: string, record: ClipRecord, audio: TranscodedAudio): SampleJson {
  const text = record.text.map((t) => t.trim()).filter((t) => t.length > 0);
  return parseOrThrow(
    sampleJsonSchema,
    {
      key,
      text: text.length > 0 ? text : [record.id],
      tag: record.tags,
      original_data: record.original,
      source: record.source,
      provider_id: record.id,
      license: record.license,
      duration: Number(audio.durationSec.toFixed(6)),
      sample_rate: 48000,
      channels: 1,
      original_sample_rate: audio.source.sampleRate,
      original_channels: audio.source.channels,
      original_codec: audio.source.codec,
      original_format: audio.source.format,
    },
    `sample JSON for ${key}`,
  );
}
