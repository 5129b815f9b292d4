import type { Command } from 'commander';
import { runDemo } from '../demo/run-demo.ts';
import { LAION_AUDIO_630K } from '../crawl/recipes/laion-audio-630k.ts';
import { integerArg } from './context.ts';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline offline on a generated collection (starts a private Redis if none answers) and verify the result')
    .option('--out <dir>', 'where the dataset is written (replaced if it is a previous demo)', './data/demo')
    .option('--workers <n>', 'worker processes to start', integerArg, 2)
    .option('--concurrency <n>', 'transcode concurrency per worker', integerArg, 2)
    .option('--recipe <name>', `crawl a recipe instead, against local stand-ins of its providers (fixture servers on 127.0.0.1): ${LAION_AUDIO_630K}`)
    .option('--caption-model <dir|id>', 'T5 captioner for the caption stage ("template": LAION\'s template; default: a tiny untrained T5 generated for the demo)')
    .option('--clap-model <dir|id>', 'CLAP model for the embed stage ("none": no embeddings; default: a tiny untrained CLAP generated for the demo)')
    .action(async (options: { out: string; workers: number; concurrency: number; recipe?: string; captionModel?: string; clapModel?: string }) => {
      if (options.recipe !== undefined && options.recipe !== LAION_AUDIO_630K) throw new Error(`unknown recipe ${JSON.stringify(options.recipe)}; recipes: ${LAION_AUDIO_630K}`);
      const summary = await runDemo(
        {
          out: options.out,
          workers: options.workers,
          concurrency: options.concurrency,
          ...(options.recipe === LAION_AUDIO_630K ? { recipe: LAION_AUDIO_630K } : {}),
          ...(options.captionModel !== undefined ? { captionModel: options.captionModel === 'template' ? null : options.captionModel } : {}),
          ...(options.clapModel !== undefined ? { clapModel: options.clapModel === 'none' ? null : options.clapModel } : {}),
        },
        (line) => process.stderr.write(`${line}\n`),
      );
      console.log(JSON.stringify(summary));
    });
}
