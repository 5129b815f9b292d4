import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PACKAGE_ROOT } from '../infra/package-root.ts';
import type { Stage } from '../infra/queues.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'clapset.js');

export interface LocalWorkers {
  processes: ChildProcess[];
  /** SIGTERM (graceful: active jobs finish), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `count` separate `clapset worker` processes on this host, their logs appended to `logFile`. */
export function spawnLocalWorkers(
  count: number,
  options: {
    env: NodeJS.ProcessEnv;
    stages: readonly Stage[];
    concurrency: number;
    /** `clapset worker --batch-size` / `--model-concurrency` (the worker's defaults when absent). */
    batchSize?: number;
    modelConcurrency?: number;
    logFile?: string;
  },
): LocalWorkers {
  let log: NodeJS.WritableStream | 'inherit' = 'inherit';
  if (options.logFile) {
    mkdirSync(dirname(options.logFile), { recursive: true });
    log = createWriteStream(options.logFile, { flags: 'a' });
  }
  const processes = Array.from({ length: count }, () => {
    const args = [BIN, 'worker', '--queues', options.stages.join(','), '--concurrency', String(options.concurrency)];
    if (options.batchSize !== undefined) args.push('--batch-size', String(options.batchSize));
    if (options.modelConcurrency !== undefined) args.push('--model-concurrency', String(options.modelConcurrency));
    const child = spawn(process.execPath, args, {
      env: options.env,
      stdio: ['ignore', log === 'inherit' ? 'inherit' : 'pipe', log === 'inherit' ? 'inherit' : 'pipe'],
    });
    if (log !== 'inherit') {
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
    }
    return child;
  });
  return {
    processes,
    async stop(graceMs = 10_000) {
      await Promise.all(
        processes.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
