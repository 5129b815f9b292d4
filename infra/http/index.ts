/** The polite HTTP layer's public API (see docs/http.md). */
export { createHttpClient, HttpClient } from './client.ts';
export { downloadToWorkDir } from './work-file.ts';
export type { WorkFile } from './work-file.ts';
export type { DownloadOptions, DownloadResult, HttpClientOptions, HttpResponse, RequestOptions } from './client.ts';
export { definePolicy, hostsOf, isAllowedUrl } from './policy.ts';
export type { HttpPolicy, HttpTuning, RateWindow, Timeouts } from './policy.ts';
export { HTTP_COUNTERS, readHttpCounters, readProviderCounters } from './counters.ts';
export type { HttpCounter } from './counters.ts';
export { HostNotAllowedError, HttpStatusError, OptedOutError, QuotaExhaustedError, RetriesExhaustedError, TooLargeError } from './errors.ts';
export { parseRobotsTag } from './robots.ts';
export { registerSecret, safeUrl, scrub } from './scrub.ts';
export { userAgent } from './user-agent.ts';
