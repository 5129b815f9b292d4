/**
 * A crawl's stage models are checked before anything is enqueued: a CLAP or caption model that is
 * missing or broken would otherwise fail every embed (caption) job after its retries and leave a
 * dataset of zero samples with exit 0. Each distinct model named by the crawls is resolved and
 * loaded once here, on CPU (the device is each worker's concern; the files and graphs are not).
 * This host must therefore hold the models under the same ids as the workers (`clapset models pull`).
 */
import type { Config } from '../schemas/config.ts';
import type { CrawlJob } from '../schemas/jobs.ts';
import type { Stage } from '../infra/queues.ts';
import { errorMessage } from '../infra/log.ts';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import { createCaptioner } from '../workers/caption/captioner.ts';
import { ClapEmbedder } from '../workers/embed/clap-embedder.ts';
import type { WorkerDeps } from '../workers/worker-deps.ts';
import type { CrawlSummary } from './crawl.ts';

/** Loads every caption and CLAP model the crawls name; one error lists every problem, by option. */
export async function checkStageModels(crawls: readonly CrawlJob[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const problems: string[] = [];
  const distinct = <T>(specs: T[]): T[] => [...new Map(specs.map((spec) => [JSON.stringify(spec), spec])).values()];
  const named = (option: string, model: string, dtype: string) => `--${option}-model ${model}${dtype === 'fp32' ? '' : ` (--${option}-dtype ${dtype})`}`;
  for (const { model, dtype } of distinct(crawls.flatMap((c) => (c.dataset.embed ? [c.dataset.embed] : [])))) {
    try {
      const embedder = await ClapEmbedder.load((await resolveModelDir(model, env)).dir, { device: 'cpu', threads: 1, dtype });
      await embedder.close();
    } catch (error) {
      problems.push(`${named('clap', model, dtype)}: ${errorMessage(error)}`);
    }
  }
  for (const { model, dtype } of distinct(crawls.flatMap((c) => (c.dataset.caption?.model ? [{ model: c.dataset.caption.model, dtype: c.dataset.caption.dtype }] : [])))) {
    try {
      await (await createCaptioner({ model, dtype, device: 'cpu', env })).close();
    } catch (error) {
      problems.push(`${named('caption', model, dtype)}: ${errorMessage(error)}`);
    }
  }
  if (problems.length > 0) throw new Error(`not submitted, nothing enqueued: ${problems.join('; ')}`);
}

/**
 * A worker's own check at start: the default models of this host (CLAPSET_CLAP_MODEL,
 * CLAPSET_CAPTION_MODEL) load on its device before it takes a job, through its deps, so the jobs
 * reuse them. Models named only by a crawl are checked by the submitter and loaded on first use.
 */
export async function checkWorkerModels(deps: WorkerDeps, stages: readonly Stage[], config: Pick<Config, 'clapModel' | 'captionModel'>): Promise<void> {
  const problems: string[] = [];
  if (stages.includes('embed') && config.clapModel) {
    await deps.embedder({ model: config.clapModel, dtype: 'fp32' }).catch((error: unknown) => problems.push(`CLAPSET_CLAP_MODEL ${config.clapModel}: ${errorMessage(error)}`));
  }
  if (stages.includes('caption') && config.captionModel) {
    await deps.captioner({ model: config.captionModel, batchSize: 8, dtype: 'fp32' }).catch((error: unknown) => problems.push(`CLAPSET_CAPTION_MODEL ${config.captionModel}: ${errorMessage(error)}`));
  }
  if (problems.length > 0) throw new Error(`worker not started: ${problems.join('; ')}`);
}

/** A crawl whose every clip failed wrote nothing usable: that is an error, not a summary. */
export function assertSomethingWritten(summaries: readonly (CrawlSummary & { source: string })[]): void {
  const lost = summaries.filter((s) => s.samples === 0 && s.failed > 0);
  if (lost.length === 0) return;
  throw new Error(
    `${lost.map((s) => `${s.source}: all ${s.failed} clips failed`).join('; ')} — no samples written ` +
      '(the shards record each failure reason: clapset status, or stats.json in the dataset)',
  );
}
