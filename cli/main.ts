import { Command } from 'commander';
import { errorMessage } from '../infra/log.ts';
import { CLAPSET_VERSION } from '../infra/version.ts';

type Register = (program: Command) => void;

/**
 * Each command module with the commands it registers, in help order. Only the module of the command
 * being run is loaded (importing them all loads every command's dependencies — AWS SDK, BullMQ,
 * Express, ONNX Runtime — which is most of a command's start-up); the full help, `help <command>`
 * and an unknown command load them all, so a command missing here still works, only slower.
 */
const COMMANDS: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['demo'], load: async () => (await import('./demo-command.ts')).registerDemoCommand },
  { names: ['crawl'], load: async () => (await import('./crawl-command.ts')).registerCrawlCommand },
  { names: ['probe'], load: async () => (await import('./probe-command.ts')).registerProbeCommand },
  { names: ['worker'], load: async () => (await import('./worker-command.ts')).registerWorkerCommand },
  { names: ['status'], load: async () => (await import('./status-command.ts')).registerStatusCommand },
  { names: ['urls', 'finalise', 'verify', 'stats'], load: async () => (await import('./dataset-commands.ts')).registerDatasetCommands },
  { names: ['repair'], load: async () => (await import('./repair-command.ts')).registerRepairCommand },
  { names: ['dashboard'], load: async () => (await import('./dashboard-command.ts')).registerDashboardCommand },
  { names: ['doctor', 'models'], load: async () => (await import('./model-commands.ts')).registerModelCommands },
  { names: ['search', 'features'], load: async () => (await import('./embedding-commands.ts')).registerEmbeddingCommands },
];

const program = new Command('clapset')
  .description('Build LAION-Audio-630K-style audio–text datasets: crawl sources, transcode to 48 kHz mono FLAC, write WebDataset shards.\n' +
    'Environment: CLAPSET_REDIS_URL (default redis://127.0.0.1:6379), CLAPSET_PREFIX (Redis key prefix, default clapset),\n' +
    'FFMPEG_PATH, CLAPSET_S3_ENDPOINT + AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION for s3:// datasets.')
  .version(CLAPSET_VERSION)
  .showHelpAfterError();

// The command is the first argument: the program itself takes no options but --version and --help.
const named = COMMANDS.filter((c) => c.names.includes(process.argv[2] ?? ''));

try {
  for (const command of named.length > 0 ? named : COMMANDS) (await command.load())(program);
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`clapset: ${errorMessage(error)}\n`);
  process.exitCode = 1;
}
