import { Command } from 'commander';
import { errorMessage } from '../infra/log.ts';
import { CLAPSET_VERSION } from '../infra/version.ts';
import { registerCrawlCommand } from './crawl-command.ts';
import { registerDashboardCommand } from './dashboard-command.ts';
import { registerDatasetCommands } from './dataset-commands.ts';
import { registerDemoCommand } from './demo-command.ts';
import { registerEmbeddingCommands } from './embedding-commands.ts';
import { registerModelCommands } from './model-commands.ts';
import { registerProbeCommand } from './probe-command.ts';
import { registerRepairCommand } from './repair-command.ts';
import { registerStatusCommand } from './status-command.ts';
import { registerWorkerCommand } from './worker-command.ts';

const program = new Command('clapset')
  .description('Build LAION-Audio-630K-style audio–text datasets: crawl sources, transcode to 48 kHz mono FLAC, write WebDataset shards.\n' +
    'Environment: CLAPSET_REDIS_URL (default redis://127.0.0.1:6379), CLAPSET_PREFIX (Redis key prefix, default clapset),\n' +
    'FFMPEG_PATH, CLAPSET_S3_ENDPOINT + AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION for s3:// datasets.')
  .version(CLAPSET_VERSION)
  .showHelpAfterError();

registerDemoCommand(program);
registerCrawlCommand(program);
registerProbeCommand(program);
registerWorkerCommand(program);
registerStatusCommand(program);
registerDatasetCommands(program);
registerRepairCommand(program);
registerDashboardCommand(program);
registerModelCommands(program);
registerEmbeddingCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`clapset: ${errorMessage(error)}\n`);
  process.exitCode = 1;
}
