import type { Command } from 'commander';
import { DEVICES, probeDevices } from '../infra/models/devices.ts';
import { locateFfmpeg } from '../infra/ffmpeg/locate.ts';
import { DTYPE_SUFFIX, type ModelDtype } from '../infra/models/model-dir.ts';
import { pullModel } from '../infra/models/pull.ts';
import { connectRedis, redisAnswers } from '../infra/redis/connection.ts';
import { readRedisHealth, type RedisHealth } from '../infra/redis/redis-health.ts';
import { errorMessage, redact } from '../infra/log.ts';
import { configFromEnv } from '../schemas/config.ts';
import { openQueueContext } from './context.ts';

export function registerModelCommands(program: Command): void {
  program
    .command('doctor')
    .description('Report what works on this host: ffmpeg, Redis, and which model devices (cpu, webgpu, cuda) can run a session')
    .option('--json', 'print one JSON object', false)
    .action(async (options: { json: boolean }) => {
      const config = configFromEnv();
      const ffmpeg = await locateFfmpeg(config).then((path) => ({ ok: true, detail: path }), (error: Error) => ({ ok: false, detail: error.message }));
      // redact(): a password in CLAPSET_REDIS_URL or the S3 endpoint must not reach the terminal or a ticket.
      const redis: { ok: boolean; detail: string; health?: RedisHealth; error?: string } = { ok: await redisAnswers(config.redisUrl), detail: redact(config.redisUrl) };
      if (redis.ok) {
        const client = connectRedis(config.redisUrl);
        await readRedisHealth(client).then((health) => (redis.health = health), (error: unknown) => (redis.error = errorMessage(error)));
        client.disconnect();
      }
      const s3 = { endpoint: config.s3.endpoint ? redact(config.s3.endpoint) : null, region: config.s3.region };
      const devices = await probeDevices(DEVICES);
      if (options.json) {
        console.log(JSON.stringify({ ffmpeg, redis, s3, devices }));
        return;
      }
      console.log(`ffmpeg   ${ffmpeg.ok ? 'ok  ' : 'MISSING'} ${ffmpeg.detail}`);
      console.log(`redis    ${redis.ok ? 'ok  ' : 'not answering'} ${redis.detail}`);
      if (redis.health) console.log(describeRedisHealth(redis.health).map((line) => `         ${line}`).join('\n'));
      if (redis.error) console.log(`         could not read INFO: ${redis.error}`);
      console.log(`s3       ${s3.endpoint ?? 'AWS'} (${s3.region})`);
      for (const d of devices) console.log(`device   ${d.device.padEnd(7)} ${d.available ? 'ok  ' : 'unavailable'} ${d.detail}`);
    });

  program
    .command('models')
    .description('Manage model folders (T5 captioners, CLAP)')
    .command('pull')
    .description('Download a model folder in the transformers.js layout (CLAP or T5, chosen by its config.json) from a Hugging Face-style hub into CLAPSET_MODELS_DIR: files of the resolved commit, resumable, sha256-checked. Uses Redis (CLAPSET_REDIS_URL) for the HTTP rate limit')
    .argument('<id>', 'model id, e.g. Xenova/larger_clap_general or Xenova/t5-small')
    .option('--dest <dir>', 'target folder (default: <models dir>/<id>)')
    .option('--hub <url>', 'hub base URL (default: CLAPSET_HUB_URL, else https://huggingface.co)')
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--dtype <list>', `ONNX variants, comma-separated: ${Object.keys(DTYPE_SUFFIX).join(', ')}`, 'fp32')
    .option('--download-host <hosts>', "hosts (host[:port], *.domain) a mirror's download redirects may reach, comma-separated; the Hub's own CDNs are always allowed")
    .action(async (id: string, options: { dest?: string; hub?: string; revision: string; dtype: string; downloadHost?: string }) => {
      const dtypes = options.dtype.split(',').map((d) => d.trim());
      for (const dtype of dtypes) if (!(dtype in DTYPE_SUFFIX)) throw new Error(`--dtype ${dtype}: not one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
      const ctx = await openQueueContext();
      try {
        const result = await pullModel({
          id,
          revision: options.revision,
          dtypes: dtypes as ModelDtype[],
          http: { redis: ctx.connection, prefix: ctx.prefix },
          ...(options.dest ? { dest: options.dest } : {}),
          ...(options.hub ? { baseUrl: options.hub } : {}),
          ...(options.downloadHost ? { downloadHosts: options.downloadHost.split(',').map((h) => h.trim()) } : {}),
          onProgress: (e) => process.stderr.write(`pull ${id}: ${e.files}/${e.of} ${e.path}\n`),
        });
        const fetched = result.files.filter((f) => !f.skipped).length;
        console.log(`${result.id}@${result.revision} (${result.modelType}): ${result.files.length} files in ${result.dir} (${fetched} downloaded, ${result.files.length - fetched} already there)`);
      } finally {
        await ctx.close();
      }
    });
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** Policy (and what is wrong with it), persistence and memory, one line each. */
function describeRedisHealth(h: RedisHealth): string[] {
  const policy =
    h.policy === 'noeviction' ? 'maxmemory-policy noeviction (ok)'
    : h.policy === null ? 'maxmemory-policy unknown (INFO and CONFIG refused): workers refuse to start without --allow-eviction-policy'
    : `maxmemory-policy ${h.policy}: WRONG, Redis may evict BullMQ's keys; set noeviction (workers refuse to start)`;
  const aof = h.aof === null ? 'AOF unknown' : h.aof ? 'AOF on' : 'AOF off (a restart loses the jobs since the last snapshot)';
  const rdb = h.rdb === null ? 'RDB unknown' : h.rdb ? `RDB snapshots on${h.rdbLastSave ? `, last ${h.rdbLastSave}` : ''}` : 'RDB snapshots off';
  const memory = `memory ${h.usedMemory === null ? '?' : mib(h.usedMemory)} used of ${h.maxMemory ? mib(h.maxMemory) : 'no maxmemory limit'}`;
  return [policy, `persistence: ${aof}; ${rdb}`, memory];
}
