/**
 * Freesound APIv2 search: building page URLs and reading pages. Every page's URL is built here from
 * the spec (URLSearchParams escapes `+` as %2B); the API's `next` links are never followed — they
 * are shaped `…/search/?&query=…`, carry no credential and leave `+` unescaped (MTG/freesound
 * apiv2/forms.py: `construct_link` quotes with `quote(s, safe=",:[]*+()'")`), which a server reads
 * as a space.
 */
import { z } from 'zod';
import type { FreesoundSourceSpec } from '../../schemas/source-spec.ts';

export const SEARCH_FIELDS = [
  'id', 'url', 'name', 'tags', 'description', 'license', 'username', 'created', 'type', 'channels',
  'filesize', 'bitrate', 'bitdepth', 'duration', 'samplerate', 'pack', 'download', 'previews',
  'num_downloads', 'avg_rating', 'num_ratings', 'is_explicit', 'gen_ai_preference',
] as const;

/** The spec's filter plus LAION's duration and sample-rate limits, pushed to the API. */
export function searchFilter(spec: Pick<FreesoundSourceSpec, 'filter' | 'maxDuration' | 'minSampleRate'>): string {
  const parts: string[] = [];
  if (spec.filter?.trim()) parts.push(spec.filter.trim());
  if (spec.maxDuration !== null) parts.push(`duration:[0 TO ${spec.maxDuration}]`);
  if (spec.minSampleRate !== null) parts.push(`samplerate:[${spec.minSampleRate} TO *]`);
  return parts.join(' ');
}

export function searchUrl(spec: FreesoundSourceSpec, page: number): URL {
  const url = new URL('search/', spec.apiBase.endsWith('/') ? spec.apiBase : `${spec.apiBase}/`);
  url.searchParams.set('query', spec.query);
  const filter = searchFilter(spec);
  if (filter) url.searchParams.set('filter', filter);
  url.searchParams.set('sort', spec.sort);
  url.searchParams.set('fields', SEARCH_FIELDS.join(','));
  url.searchParams.set('page_size', String(Math.min(150, spec.pageSize)));
  url.searchParams.set('page', String(page));
  return url;
}

/** A sound as the search returns it: only what we rely on is checked, the rest is kept as is. */
export const soundSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    tags: z.array(z.string()).default([]),
    description: z.string().nullable().default(''),
    license: z.string().nullable().default(null),
    username: z.string().optional(),
    duration: z.number().optional(),
    samplerate: z.number().optional(),
    filesize: z.number().optional(),
    type: z.string().optional(),
    download: z.string().optional(),
    previews: z.record(z.string(), z.string()).optional(),
    gen_ai_preference: z.string().optional(),
  })
  .passthrough();
export type FreesoundSound = z.infer<typeof soundSchema>;

export const searchPageSchema = z.object({
  count: z.number().int().min(0),
  next: z.string().nullable(),
  results: z.array(z.unknown()),
});
export type SearchPage = z.infer<typeof searchPageSchema>;

/** `{"detail": "…"}`, the API's error body, as text for an error message. */
export function apiDetail(body: unknown): string {
  if (body && typeof body === 'object' && 'detail' in body) return String((body as { detail: unknown }).detail);
  return '';
}
