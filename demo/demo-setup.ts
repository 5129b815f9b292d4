import type { CrawlJob } from '../schemas/jobs.ts';

/** What a demo crawls, what its workers need in their environment, and what to tear down afterwards. */
export interface DemoSetup {
  crawls: CrawlJob[];
  workerEnv: NodeJS.ProcessEnv;
  close(): Promise<void>;
}
