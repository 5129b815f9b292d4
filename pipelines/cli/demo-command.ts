import type { Command } from 'commander';
import { runDemo } from '../demo/run-demo.ts';
import { parseNumber } from './context.ts';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline offline on a generated collection (starts a private Redis if none answers) and verify the result')
    .option('--out <dir>', 'where the dataset is written (replaced if it is a previous demo)', './data/demo')
    .option('--workers <n>', 'worker processes to start', '2')
    .option('--concurrency <n>', 'transcode concurrency per worker', '2')
    .action(async (options: { out: string; workers: string; concurrency: string }) => {
      const summary = await runDemo(
        { out: options.out, workers: parseNumber(options.workers), concurrency: parseNumber(options.concurrency) },
        (line) => process.stderr.write(`${line}\n`),
      );
      console.log(JSON.stringify(summary));
    });
}
