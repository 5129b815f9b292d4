/**
 * A small pool of worker threads computing CLAP features (log-mel, fusion views) beside inference,
 * so a worker's event loop keeps feeding the model while clips are turned into features. Each thread
 * runs the very `clipFeatures` of workers/embed/fusion.ts, so the features are byte-identical to the
 * in-thread ones (test/unit/feature-pool.test.ts).
 *
 * Threads start on first use and are unreferenced while idle, so an idle pool never keeps a process
 * alive. From the compiled build the thread is the `.js` sibling in dist/; from the TypeScript
 * sources (tsx) a thread first registers tsx's loader, then imports the `.ts` body.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FeatureReply, FeatureTask } from './feature-thread.ts';
import type { ClipFeatureOptions, ClipFeatures } from './fusion.ts';

/** Threads a worker process gives features by default: one core left for the event loop and ONNX Runtime, at most 4. */
export function defaultFeatureThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Thread {
  worker: Worker;
  busy: Task | undefined;
}

interface Task {
  message: FeatureTask;
  resolve(features: ClipFeatures): void;
  reject(error: Error): void;
}

export class FeaturePool {
  private readonly threads: Thread[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`feature threads must be an integer ≥ 1, got ${size}`);
  }

  /** `clipFeatures(pcm, options)` on a pool thread. `pcm` is copied, never transferred away from the caller. */
  features(pcm: Float32Array, options: ClipFeatureOptions): Promise<ClipFeatures> {
    if (this.closed) return Promise.reject(new Error('the feature pool is closed'));
    return new Promise<ClipFeatures>((resolve, reject) => {
      const copy = pcm.slice();
      this.queue.push({ message: { id: this.nextId++, pcm: copy, options: { truncation: options.truncation, filterBank: options.filterBank, seed: options.seed } }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('the feature pool closed'));
    await Promise.all(this.threads.splice(0).map((thread) => thread.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = this.threads.find((t) => t.busy === undefined);
      if (!thread && this.threads.length < this.size) thread = this.spawn();
      if (!thread) return;
      const task = this.queue.shift()!;
      thread.busy = task;
      thread.worker.ref();
      thread.worker.postMessage(task.message, [task.message.pcm.buffer as ArrayBuffer]);
    }
  }

  private spawn(): Thread {
    const thread: Thread = { worker: startThread(), busy: undefined };
    this.threads.push(thread);
    thread.worker.on('message', (reply: FeatureReply) => {
      const task = thread.busy;
      thread.busy = undefined;
      thread.worker.unref();
      if (task && task.message.id === reply.id) {
        if ('error' in reply) task.reject(new Error(reply.error));
        else task.resolve({ data: reply.data, shape: reply.shape, longer: reply.longer });
      }
      this.dispatch();
    });
    const lost = (error: Error) => {
      // A thread that died takes its task with it; the pool starts a fresh one for the rest.
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      thread.busy?.reject(error);
      thread.busy = undefined;
      if (!this.closed) this.dispatch();
    };
    thread.worker.on('error', lost);
    thread.worker.on('exit', (code) => lost(new Error(`a feature thread exited (code ${code})`)));
    thread.worker.unref();
    return thread;
  }
}

function startThread(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // From the sources: the thread has no loader for .ts until tsx registers one in it.
    const tsx = import.meta.resolve('tsx/esm/api');
    const body = new URL('./feature-thread.ts', here).href;
    return new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(body)}); });`, { eval: true });
  }
  return new Worker(new URL('./feature-thread.js', here));
}
