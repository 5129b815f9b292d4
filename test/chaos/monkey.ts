/**
 * The chaos monkey: fires seeded events (kill a worker, wipe Redis, arm a 429 storm…) when the crawl
 * reaches given fractions of its shards, each after a seeded delay so it lands mid-job rather than
 * on a shard boundary. Progress-based rather than clock-based, so the same seed hits the same phase
 * of the run on a fast machine and a slow one.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalWorkers } from '../../crawl/local-workers.ts';
import { SeededRandom } from '../../infra/seeded-random.ts';

export interface ChaosEvent {
  name: string;
  /** Fraction of the expected shards done (0–1) at which the event fires. */
  at: number;
  /** Wait this long after `at` is reached. */
  delayMs: number;
  /** Does the damage; may return a note for the report. */
  fire(): Promise<string | void>;
}

export interface FiredEvent {
  name: string;
  at: number;
  /** Progress when it actually fired, and seconds into the run. */
  progress: number;
  seconds: number;
  note?: string;
  /** Fired because progress had stalled, before its moment. */
  stalled?: boolean;
}

/** A window of progress fractions to draw event moments from. */
export type Window = readonly [number, number];

export function drawMoment(random: SeededRandom, [lo, hi]: Window): number {
  return Number((lo + random.next() * (hi - lo)).toFixed(3));
}

/**
 * Polls `progress` every `intervalMs` and fires each event once its moment has come, in order,
 * until all have fired or `stop()` is called (bounded: one pass per poll, no retries of a failed event).
 * When progress, once started, stands still for `stallMs` (a killed worker held the crawl job, whose
 * lock takes a minute to expire), the next event fires anyway: chaos does not wait for the run to recover.
 */
export function startMonkey(
  events: ChaosEvent[],
  progress: () => Promise<number>,
  options: { intervalMs?: number; stallMs?: number; started?: number; until?: number; onFired?: (event: FiredEvent) => void } = {},
) {
  const pending = [...events].sort((a, b) => a.at - b.at);
  const fired: FiredEvent[] = [];
  const started = options.started ?? Date.now();
  const stallMs = options.stallMs ?? Infinity;
  let stopped = false;
  let last = { progress: -1, since: Date.now() };
  const done = (async () => {
    while (!stopped && pending.length > 0 && Date.now() < (options.until ?? Infinity)) {
      const now = await progress().catch(() => last.progress);
      if (now !== last.progress) last = { progress: now, since: Date.now() };
      // Only once shards are coming out: the first one takes a while to make by itself.
      const stalled = now > 0 && Date.now() - last.since >= stallMs;
      while (!stopped && pending.length > 0 && (pending[0]!.at <= now || stalled)) {
        const event = pending.shift()!;
        await sleep(event.delayMs);
        let note: string | void;
        try {
          note = await event.fire();
        } catch (error) {
          note = `failed: ${(error as Error).message}`;
        }
        fired.push({ name: event.name, at: event.at, progress: now, seconds: Math.round((Date.now() - started) / 100) / 10, ...(note ? { note } : {}), ...(stalled ? { stalled } : {}) });
        options.onFired?.(fired.at(-1)!);
        // A long event (a storage outage) is not a stall of the run: count stillness from its end.
        last = { progress: now, since: Date.now() };
        if (stalled) break; // one event per stall
      }
      if (pending.length > 0) await sleep(options.intervalMs ?? 500);
    }
    return fired;
  })();
  return {
    done,
    /** Events that had not fired when stopped (or when `until` passed). */
    pending: () => pending.map((e) => e.name),
    async stop() {
      stopped = true;
      return done;
    },
  };
}

export interface RollingRestart {
  /** Workers alive when the restart began: each was signalled once. */
  workers: number;
  /** Per worker, in order: seconds from SIGTERM to exit, how it exited, and whether that was a drain (exit 0 within grace). */
  drains: { pid: number; seconds: number; code: number | null; signal: NodeJS.Signals | null; drained: boolean }[];
}

/**
 * Worker processes that can be killed and replaced: every `clapset worker` started here, alive or
 * not, so they can all be stopped at the end.
 */
export class WorkerPool {
  readonly #spawn: (n: number) => LocalWorkers;
  readonly #handles: LocalWorkers[] = [];
  #started = 0;

  constructor(spawn: (n: number) => LocalWorkers) {
    this.#spawn = spawn;
  }

  start(count: number): void {
    for (let i = 0; i < count; i++) this.#handles.push(this.#spawn(this.#started++));
  }

  get alive(): ChildProcess[] {
    return this.#handles.flatMap((h) => h.processes).filter((p) => p.exitCode === null && p.signalCode === null);
  }

  /** SIGKILLs one live worker picked by `random`, then starts a replacement after `restartMs`. */
  async killOne(random: SeededRandom, restartMs: number): Promise<string> {
    const alive = this.alive;
    const victim = alive[random.int(0, alive.length - 1)];
    if (!victim) return 'no live worker';
    const exited = new Promise((r) => victim.once('exit', r));
    victim.kill('SIGKILL');
    await exited;
    await sleep(restartMs);
    this.start(1);
    return `killed pid ${victim.pid}, replaced after ${restartMs} ms`;
  }

  /**
   * A rolling restart: each worker alive now, one at a time, gets SIGTERM; once it has exited (it
   * drains: active jobs finish or are handed back within its grace) a replacement starts, then the
   * next. One that has not exited `graceMs` + 10 s after its signal is SIGKILLed and counted as not
   * drained. `seconds` is signal to exit.
   */
  async rollingRestart(graceMs: number): Promise<RollingRestart> {
    const old = this.alive;
    const drains: RollingRestart['drains'] = [];
    for (const worker of old) {
      const signalled = Date.now();
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => worker.once('exit', (code, signal) => r([code, signal])));
      worker.kill('SIGTERM');
      const killer = setTimeout(() => worker.kill('SIGKILL'), graceMs + 10_000);
      const [code, signal] = await exited;
      clearTimeout(killer);
      const seconds = Math.round((Date.now() - signalled) / 10) / 100;
      drains.push({ pid: worker.pid ?? -1, seconds, code, signal, drained: code === 0 && seconds <= graceMs / 1000 });
      this.start(1);
    }
    return { workers: old.length, drains };
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#handles.map((h) => h.stop(15_000)));
  }
}
