import type { Command } from 'commander';
import { DEVICES, probeDevices } from '../infra/models/devices.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { progressLine } from '../infra/progress.ts';
import { pullModel } from '../infra/models/pull.ts';
import { redisAnswers } from '../infra/redis/connection.ts';
import { configFromEnv } from '../schemas/config.ts';

export function registerModelCommands(program: Command): void {
  program
    .command('doctor')
    .description('Report what works on this host: ffmpeg, Redis, and which model devices (cpu, webgpu, cuda) can run a session')
    .option('--json', 'print one JSON object', false)
    .action(async (options: { json: boolean }) => {
      const config = configFromEnv();
      const ffmpeg = await locateFfmpeg(config).then((path) => ({ ok: true, detail: path }), (error: Error) => ({ ok: false, detail: error.message }));
      const redis = { ok: await redisAnswers(config.redisUrl), detail: config.redisUrl };
      const devices = await probeDevices(DEVICES);
      if (options.json) {
        console.log(JSON.stringify({ ffmpeg, redis, devices }));
        return;
      }
      console.log(`ffmpeg   ${ffmpeg.ok ? 'ok  ' : 'MISSING'} ${ffmpeg.detail}`);
      console.log(`redis    ${redis.ok ? 'ok  ' : 'not answering'} ${redis.detail}`);
      for (const d of devices) console.log(`device   ${d.device.padEnd(7)} ${d.available ? 'ok  ' : 'unavailable'} ${d.detail}`);
    });

  program
    .command('models')
    .description('Manage model folders (T5 captioners, CLAP)')
    .command('pull')
    .description('Download a model folder from a Hugging Face-style hub (resumable, size and sha256 checked) into CLAPSET_MODELS_DIR')
    .argument('<id>', 'model id, e.g. Xenova/t5-small')
    .option('--dest <dir>', 'target folder (default: <models dir>/<id>)')
    .option('--hub <url>', 'hub base URL (default: CLAPSET_HUB_URL, else https://huggingface.co)')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--dtype <list>', 'ONNX variants besides the config and tokenizer files: fp32, fp16, q8, …', 'fp32')
    .action(async (id: string, options: { dest?: string; hub?: string; revision: string; dtype: string }) => {
      const progress = progressLine(`pull ${id}`);
      const result = await pullModel({
        id,
        revision: options.revision,
        dtypes: options.dtype.split(',') as never,
        ...(options.dest ? { dest: options.dest } : {}),
        ...(options.hub ? { baseUrl: options.hub } : {}),
        onProgress: (e) => progress.update(e.bytes, e.total, e.path),
      });
      progress.done();
      console.log(`${result.id}@${result.revision}: ${result.files.length} files in ${result.dir}`);
    });
}
