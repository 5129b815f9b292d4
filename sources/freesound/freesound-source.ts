/**
 * Freesound through APIv2 search: pages of up to 150 sounds in a stable order (created_asc by
 * default), each normalised to a ClipRecord with LAION's captions, its licence id and the metadata.
 * Sounds whose `gen_ai_preference` the spec excludes are marked `optedOut`, so the crawl leaves
 * them out and counts them exactly (checkpointed like every exclusion); `null` results
 * (deleted sounds) are skipped; 404 past the last page ends the crawl; 401, a first page that is
 * missing, HTML, empty or lacks the fields we read stop it with a clear error (first-page.ts).
 * Audio is a preview (no OAuth) or the original (OAuth2 bearer).
 */
import type { ClipRecord } from '../../schemas/clip.ts';
import { ClipError } from '../../schemas/failure.ts';
import type { FreesoundSourceSpec } from '../../schemas/source-spec.ts';
import type { HttpClient } from '../../infra/http/client.ts';
import { HttpStatusError } from '../../infra/http/errors.ts';
import { hostsOf } from '../../infra/http/policy.ts';
import { parseIntegerCursor } from '../cursor.ts';
import { checkFirstRecords, checkPage, formatError, isChallenge, ProviderError } from '../first-page.ts';
import { providerClient } from '../provider-client.ts';
import { probeMediaWith, type MediaCheck, type Probeable } from '../probe.ts';
import { registerSecret, safeUrl } from '../../infra/http/scrub.ts';
import { downloadToWorkDir } from '../../infra/http/work-file.ts';
import { log } from '../../infra/log.ts';
import type { LocalAudio, CrawlItem, ResumableSource, SourceContext } from '../source.ts';
import { freesoundCaptions } from './captions.ts';
import { licenseId } from './license.ts';
import { FreesoundOAuth } from './oauth.ts';
import { apiDetail, searchPageSchema, searchUrl, soundSchema, type FreesoundSound } from './search.ts';

/** Where a crawl stands: the result at `index` (nulls included) of `page` was the last one yielded. */
interface Cursor {
  page: number;
  index: number;
}

export class FreesoundSource implements ResumableSource, Probeable {
  readonly name: string;
  readonly #spec: FreesoundSourceSpec;
  readonly #env: NodeJS.ProcessEnv;
  readonly #api: HttpClient;
  readonly #media: HttpClient;
  readonly #oauth: FreesoundOAuth;
  #total: number | null = null;

  constructor(spec: FreesoundSourceSpec, context: SourceContext) {
    this.#spec = spec;
    this.name = spec.name;
    this.#env = context.env ?? process.env;
    const apiHosts = hostsOf(spec.apiBase);
    // One limiter per API: every source using Freesound spends the same key's quota.
    // The download endpoint may redirect to the CDN, so the API client may follow there too.
    this.#api = providerClient(context, { provider: 'freesound', allowedHosts: [...apiHosts, ...spec.mediaHosts], rate: spec.rate });
    this.#media = providerClient(context, { provider: 'freesound-media', allowedHosts: [...spec.mediaHosts], rate: spec.mediaRate });
    this.#oauth = new FreesoundOAuth(this.#api, spec.apiBase, spec.oauthEnv, this.#env, { redis: context.redis, prefix: context.prefix });
  }

  async *records(cursor?: string): AsyncGenerator<ClipRecord> {
    for await (const item of this.crawl(cursor)) yield item.record;
  }

  async *crawl(cursor?: string): AsyncGenerator<CrawlItem> {
    const key = this.#apiKey();
    const from = parseIntegerCursor('freesound', cursor, { page: 1, index: -1 }, '{"page":n,"index":i}');
    let skipThrough = from?.index ?? -1;
    const check = {
      provider: 'freesound',
      format: 'json' as const,
      whenRefused: `check the key in ${this.#spec.apiKeyEnv}`,
      whenMissing: `check apiBase (${safeUrl(this.#spec.apiBase)}), query and filter`,
    };
    // Page N is built from the spec, never by following `next`: the API's next links leave `+`
    // unescaped, so a filter such as license:"Sampling+" would change meaning from page 2 on.
    for (let page = from?.page ?? 1, pages = 0; this.#spec.maxPages === undefined || pages < this.#spec.maxPages; page++, pages++) {
      const first = from === null && pages === 0;
      const url = searchUrl(this.#spec, page);
      const response = await this.#api.request(url, { headers: { Authorization: `Token ${key}` } });
      if ((response.status === 401 || response.status === 403) && !isChallenge(response)) {
        throw new ProviderError('freesound', safeUrl(url), response.status, 'unauthorised', `freesound: the API refused the key in ${this.#spec.apiKeyEnv} (HTTP ${response.status}: ${detailOf(response)}); check the key`);
      }
      const raw = checkPage(response, url, check, first);
      if (response.status === 404) return; // past the last page: the API's way of saying "done"
      const parsed = searchPageSchema.safeParse(raw);
      if (!parsed.success) throw formatError(check, url, `not a search page {count, next, results[]} (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
      const body = parsed.data;
      this.#total = body.count;
      const records: ClipRecord[] = [];
      const malformed: string[] = [];
      for (const [index, result] of body.results.entries()) {
        if (result === null) continue; // deleted after indexing
        const sound = soundSchema.safeParse(result);
        if (!sound.success) {
          const issue = sound.error.issues[0];
          malformed.push(`result ${index}: ${issue?.path.join('.')}: ${issue?.message}`);
          log.warn('freesound: skipping a malformed search result', { page, index, problem: issue?.message });
          continue;
        }
        const record = this.#record(sound.data);
        records.push(record);
        if (index > skipThrough) yield { record, cursor: JSON.stringify({ page, index } satisfies Cursor) };
      }
      if (first && (malformed.length > 0 || body.count === 0 || body.results.length === 0)) checkFirstRecords(check, url, records, body.count, malformed);
      skipThrough = -1;
      if (body.results.length === 0 || body.next === null) return;
    }
  }

  /** The provider's total for the query, as the last page read stated it (`count`). */
  get total(): number | null {
    return this.#total;
  }

  /** `clapset probe`: a Range request on the record's preview (or, for originals, its download with the OAuth2 bearer). */
  async probeMedia(record: ClipRecord): Promise<MediaCheck> {
    return this.#spec.audio === 'original' ? probeMediaWith(this.#api, record.audio, await this.#oauth.header()) : probeMediaWith(this.#media, record.audio);
  }

  async materialise(record: ClipRecord, workDir: string, limits: { maxBytes: number }): Promise<LocalAudio> {
    if (record.invalid !== undefined) throw new ClipError('invalid_record', record.invalid);
    if (this.#spec.audio !== 'original') {
      return downloadToWorkDir(this.#media, record.audio, workDir, { maxBytes: limits.maxBytes });
    }
    const extension = typeof record.original.type === 'string' && /^[a-z0-9]{1,5}$/.test(record.original.type) ? `.${record.original.type}` : undefined;
    try {
      return await downloadToWorkDir(this.#api, record.audio, workDir, { maxBytes: limits.maxBytes, headers: await this.#oauth.header(), extension });
    } catch (error) {
      // An expired or revoked access token: refresh once and try again.
      if (!(error instanceof HttpStatusError && error.status === 401 && this.#oauth.canRefresh)) throw error;
      await this.#oauth.refresh();
      return downloadToWorkDir(this.#api, record.audio, workDir, { maxBytes: limits.maxBytes, headers: await this.#oauth.header(), extension });
    }
  }

  #apiKey(): string {
    const key = this.#env[this.#spec.apiKeyEnv];
    if (!key) throw new Error(`freesound: set ${this.#spec.apiKeyEnv} to a Freesound API key (https://freesound.org/apiv2/apply/)`);
    registerSecret(key);
    return key;
  }

  #record(sound: FreesoundSound): ClipRecord {
    const audio = this.#audioUrl(sound);
    const { previews: _previews, ...rest } = sound;
    const optedOut = sound.gen_ai_preference !== undefined && this.#spec.excludeGenAi.includes(sound.gen_ai_preference);
    return {
      source: this.name,
      id: String(sound.id),
      audio: audio ?? `freesound:${sound.id}`,
      text: freesoundCaptions(sound.name, sound.description),
      tags: sound.tags,
      license: licenseId(sound.license),
      original: { ...rest, previews: sound.previews },
      ...(this.#spec.audio === 'original' && typeof sound.filesize === 'number' ? { bytes: sound.filesize } : {}),
      ...(audio === null ? { invalid: `freesound sound ${sound.id} has no ${this.#spec.audio} URL` } : {}),
      ...(optedOut ? { optedOut: `gen_ai_preference: ${sound.gen_ai_preference}` } : {}),
    };
  }

  #audioUrl(sound: FreesoundSound): string | null {
    if (this.#spec.audio === 'original') {
      return sound.download ?? new URL(`sounds/${sound.id}/download/`, this.#spec.apiBase.endsWith('/') ? this.#spec.apiBase : `${this.#spec.apiBase}/`).href;
    }
    return sound.previews?.[this.#spec.audio] ?? null;
  }
}

export function createFreesoundSource(spec: FreesoundSourceSpec, context: SourceContext): FreesoundSource {
  return new FreesoundSource(spec, context);
}

function detailOf(response: { text(): string }): string {
  try {
    return apiDetail(JSON.parse(response.text())).slice(0, 200) || 'no detail';
  } catch {
    return 'no detail';
  }
}
