/**
 * One model session fed by many jobs: a per-process batcher that gathers the inference requests of
 * the chunk jobs running at once in this worker into session runs of up to `maxBatch` items, and
 * hands each job back its own results in order.
 *
 * A run starts when
 *  - some group holds `maxBatch` items (a full batch), or
 *  - every job that declared itself (`enter`) is now waiting on this batcher, so nothing more can
 *    come (a lone job is never delayed), or
 *  - `lingerMs` passed since the oldest pending item arrived (a job still downloading or computing
 *    features is not waited for longer than that).
 * Runs are serial: while one runs, requests pile up and make the next batch bigger, so the device is
 * never handed a tiny batch while another is in flight.
 *
 * Items carry a group key and only items of one key share a run (CLAP text graphs without an
 * attention mask: one token length per run, so no padding reaches them). Batching never changes a
 * result as long as the model treats a batch's rows independently, which every caller here
 * guarantees (and tests: batched == alone to 1e-5).
 *
 * A run that throws with items of several requests in it is retried request by request, so one
 * job's bad input fails that job's request only; the others get their results.
 */

export interface BatcherOptions<I, O> {
  /** Names the batcher in errors and stats (`clap-audio`, `clap-text`, `t5`). */
  name: string;
  /** Most items per run. */
  maxBatch: number;
  /** Longest wait for more requests before running a partial batch (default 10 ms). */
  lingerMs?: number;
  /** One session run: results in item order, exactly as many. Items all share one group key. */
  run(items: I[]): Promise<O[]>;
}

export interface BatcherStats {
  /** Session runs, including the per-request retries of a failed merged run. */
  runs: number;
  items: number;
  /** Runs whose items came from more than one request (i.e. more than one job). */
  mergedRuns: number;
  /** Most requests that shared one run. */
  maxRequestsPerRun: number;
  /** Most items in one run. */
  maxItemsPerRun: number;
  /** Merged runs that threw and were retried request by request. */
  splitRetries: number;
  /** Requests that failed. */
  failedRequests: number;
  /** Why runs started: full batch, every declared job waiting, linger expired. */
  flushes: { full: number; allWaiting: number; linger: number };
}

interface Request<O> {
  id: number;
  results: O[];
  remaining: number;
  failed: boolean;
  resolve(results: O[]): void;
  reject(error: unknown): void;
}

interface Pending<I, O> {
  item: I;
  index: number;
  request: Request<O>;
  arrived: number;
}

export class Batcher<I, O> {
  readonly stats: BatcherStats = { runs: 0, items: 0, mergedRuns: 0, maxRequestsPerRun: 0, maxItemsPerRun: 0, splitRetries: 0, failedRequests: 0, flushes: { full: 0, allWaiting: 0, linger: 0 } };
  private readonly groups = new Map<string | number, Pending<I, O>[]>();
  private readonly lingerMs: number;
  private participants = 0;
  private waiting = 0;
  private nextId = 0;
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BatcherOptions<I, O>) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) throw new RangeError(`${options.name}: batch size must be an integer ≥ 1, got ${options.maxBatch}`);
    this.lingerMs = options.lingerMs ?? 10;
  }

  /**
   * Declares a job that will submit to this batcher, so that once every declared job waits on it a
   * run starts at once instead of after the linger. Returns the function that undeclares it (call it
   * when the job will submit no more; calling it twice is harmless).
   */
  enter(): () => void {
    this.participants++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.participants--;
      this.schedule();
    };
  }

  /** Results for `items`, in order; `key` groups items that may share a run (default: all one group). */
  submit(items: readonly I[], key: (item: I, index: number) => string | number = () => 0): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      const request: Request<O> = {
        id: this.nextId++,
        results: new Array<O>(items.length),
        remaining: items.length,
        failed: false,
        resolve: (results) => {
          this.waiting--;
          resolve(results);
        },
        reject: (error) => {
          this.waiting--;
          this.stats.failedRequests++;
          reject(error);
        },
      };
      this.waiting++;
      const arrived = performance.now();
      items.forEach((item, index) => {
        const k = key(item, index);
        let group = this.groups.get(k);
        if (!group) this.groups.set(k, (group = []));
        group.push({ item, index, request, arrived });
      });
      this.schedule();
    });
  }

  /** Starts a run when one is due, else sets the linger timer for the oldest pending item. */
  private schedule(): void {
    if (this.running) return;
    for (const [key, group] of this.groups) if (group.every((p) => p.request.failed)) this.groups.delete(key);
    if (this.groups.size === 0) {
      this.clearTimer();
      return;
    }
    const full = [...this.groups.values()].find((group) => group.length >= this.options.maxBatch);
    const allWaiting = this.waiting >= this.participants;
    const oldest = Math.min(...[...this.groups.values()].map((group) => group[0]!.arrived));
    const waited = performance.now() - oldest;
    if (full || allWaiting || waited >= this.lingerMs) {
      this.clearTimer();
      this.stats.flushes[full ? 'full' : allWaiting ? 'allWaiting' : 'linger']++;
      // A full group first, else the group whose oldest item has waited longest.
      const group = full ?? [...this.groups.values()].reduce((a, b) => (b[0]!.arrived < a[0]!.arrived ? b : a));
      void this.runGroup(group);
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, Math.max(0, this.lingerMs - waited));
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async runGroup(group: Pending<I, O>[]): Promise<void> {
    this.running = true;
    const batch = group.splice(0, this.options.maxBatch).filter((p) => !p.request.failed);
    try {
      const requests = new Set(batch.map((p) => p.request));
      try {
        this.deliver(batch, await this.runOnce(batch, requests.size));
      } catch (error) {
        if (requests.size === 1) {
          this.fail(batch[0]!.request, error);
        } else {
          // One request's items may be what broke the run: give each request a run of its own.
          this.stats.splitRetries++;
          for (const request of requests) {
            const own = batch.filter((p) => p.request === request);
            try {
              this.deliver(own, await this.runOnce(own, 1));
            } catch (ownError) {
              this.fail(request, ownError);
            }
          }
        }
      }
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private async runOnce(batch: readonly Pending<I, O>[], requests: number): Promise<O[]> {
    this.stats.runs++;
    this.stats.items += batch.length;
    if (requests > 1) this.stats.mergedRuns++;
    this.stats.maxRequestsPerRun = Math.max(this.stats.maxRequestsPerRun, requests);
    this.stats.maxItemsPerRun = Math.max(this.stats.maxItemsPerRun, batch.length);
    const results = await this.options.run(batch.map((p) => p.item));
    if (results.length !== batch.length) throw new Error(`${this.options.name}: a run of ${batch.length} items returned ${results.length} results`);
    return results;
  }

  private deliver(batch: readonly Pending<I, O>[], results: readonly O[]): void {
    batch.forEach((p, i) => {
      const request = p.request;
      if (request.failed) return;
      request.results[p.index] = results[i]!;
      if (--request.remaining === 0) request.resolve(request.results);
    });
  }

  private fail(request: Request<O>, error: unknown): void {
    if (request.failed) return;
    request.failed = true;
    request.reject(error);
  }
}
