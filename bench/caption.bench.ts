/**
 * K2C throughput on CPU: captions per second at batch sizes 1, 8 and 32 (keytotext generation:
 * 4 beams, length penalty 1.5, no-repeat 3-grams), with batch size 1 as the baseline measured in the
 * same run, plus the decoder without its key/value cache at batch 8, plus chunk jobs of 4 keyword
 * lists (what a caption job holds after LAION's skips, roughly) with 1 or 4 in flight sharing one
 * captioner: its batcher (workers/batching/batcher.ts) assembles runs across the jobs.
 *
 * The model is clapset's TINY GENERATED T5 (demo/forge/t5.ts: untrained, d_model 32), forged
 * into a temp folder: the numbers measure the pipeline — tokeniser, session calls, beam search — not
 * a real T5, whose decoder dominates. Pass --model <dir-or-id> to time a real export instead.
 * Usage: [CLAPSET_DEVICE=cuda] node --import tsx bench/caption.bench.ts [--clips 256] [--threads 2] [--rounds 3] [--model dir]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { forgeTinyT5 } from '../demo/forge/t5.ts';
import { T5Model } from '../workers/caption/t5-model.ts';
import { resolveModelDir } from '../infra/models/model-dir.ts';
import { parseDevice } from '../infra/models/devices.ts';
import { beamSearch } from '../workers/caption/beam-search.ts';
import { createCaptioner } from '../workers/caption/captioner.ts';
import { keytotextInputs } from '../workers/caption/keywords.ts';
import { KEYTOTEXT_GENERATION } from '../workers/caption/t5-captioner.ts';

const { values: args } = parseArgs({ options: { clips: { type: 'string', default: '256' }, threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, model: { type: 'string' } } });
const clips = Number(args.clips);
const rounds = Number(args.rounds);
const threads = Number(args.threads);
/** CLAPSET_DEVICE=cuda (or webgpu) times the sessions there, as `clapset worker --device` would run them. */
const device = parseDevice(process.env.CLAPSET_DEVICE || 'cpu');

const WORDS = ['dog', 'bark', 'rain', 'thunder', 'car', 'engine', 'bird', 'singing', 'door', 'slams', 'piano', 'music', 'glass', 'breaks', 'train', 'wind', 'street', 'night', 'water', 'footsteps'];
const keywordLists = Array.from({ length: clips }, (_, i) => Array.from({ length: 2 + (i % 4) }, (_, j) => WORDS[(i * 7 + j * 3) % WORDS.length] as string));

const scratch = await mkdtemp(join(tmpdir(), 'clapset-caption-bench-'));
try {
  const model = args.model ?? (await forgeTinyT5(join(scratch, 'tiny-t5'), { seed: 7 })).dir;
  console.log(args.model ? `model: ${args.model}` : 'model: the TINY GENERATED T5 (untrained, d_model 32, 1+2 layers, vocab 104) — pipeline overhead, not real-T5 speed');
  console.log(`device: ${device}, ${threads} intra-op threads; ${clips} keyword lists of 2–5 keywords; num_beams 4, length_penalty 1.5, no_repeat_ngram 3; best of ${rounds} rounds`);

  // Every configuration is loaded and warmed up first (session arenas grow to the batch shape), then
  // timed in interleaved rounds; the best round counts, since neighbours on a shared host only slow runs.
  const configs: { label: string; run: () => Promise<unknown>; close: () => Promise<void> }[] = [];
  for (const batchSize of [1, 8, 32]) {
    const captioner = await createCaptioner({ model, batchSize, threads, device, env: {} });
    configs.push({ label: `batch ${batchSize}`, run: () => captioner.caption(keywordLists), close: () => captioner.close() });
  }
  // Chunk jobs sharing one captioner, as a worker's caption queue with --model-concurrency runs them.
  const chunks = Array.from({ length: Math.ceil(clips / 4) }, (_, j) => keywordLists.slice(j * 4, (j + 1) * 4));
  for (const [batchSize, inFlight] of [[8, 1], [8, 4], [32, 4]] as const) {
    const captioner = await createCaptioner({ model, batchSize, threads, device, env: {} });
    configs.push({
      label: `batch ${batchSize}, chunks of 4, ${inFlight} in flight`,
      run: async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            for (let j = next++; j < chunks.length; j = next++) {
              const leave = captioner.enter?.();
              try {
                await captioner.caption(chunks[j]!);
              } finally {
                leave?.();
              }
            }
          }),
        );
      },
      close: () => captioner.close(),
    });
  }
  // Same generation at batch 8 with the decoder recomputing every prefix (no key/value cache).
  const { dir } = await resolveModelDir(model, process.env);
  const uncached = await T5Model.load(dir, { device, threads, useCache: false });
  const search = { ...KEYTOTEXT_GENERATION, decoderStartTokenId: uncached.special.decoderStartTokenId, eosTokenId: uncached.special.eosTokenId };
  configs.push({
    label: 'batch 8, no KV cache',
    run: async () => {
      for (let i = 0; i < clips; i += 8) {
        const prompts = keywordLists.slice(i, i + 8).flatMap(keytotextInputs);
        await beamSearch(prompts.length, uncached.stepper(await uncached.encode(prompts)), search);
      }
    },
    close: () => uncached.release(),
  });
  for (const config of configs) await config.run();
  const best = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      const started = performance.now();
      await config.run();
      const perSecond = clips / ((performance.now() - started) / 1000);
      best.set(config.label, Math.max(best.get(config.label) ?? 0, perSecond));
    }
  }
  for (const config of configs) await config.close();
  const rows = configs.map((config) => ({ label: config.label, perSecond: best.get(config.label) ?? NaN }));

  const baseline = rows[0]?.perSecond ?? NaN;
  for (const row of rows) console.log(`${row.label.padEnd(34)} ${row.perSecond.toFixed(1).padStart(8)} captions/s   ×${(row.perSecond / baseline).toFixed(2)} vs batch 1`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
