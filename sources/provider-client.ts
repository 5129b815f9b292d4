import { createHttpClient, type HttpClient } from '../infra/http/client.ts';
import { definePolicy, type HttpPolicy } from '../infra/http/policy.ts';
import type { SourceContext } from './source.ts';

/**
 * A provider's polite HTTP client: its rate limit shared through the context's Redis, the
 * process-level tuning (retries, timeouts) from the context, hosts and rate from the source spec.
 */
export function providerClient(context: SourceContext, policy: Pick<HttpPolicy, 'provider' | 'allowedHosts' | 'rate'>): HttpClient {
  return createHttpClient({ redis: context.redis, prefix: context.prefix, policy: definePolicy({ ...context.http, ...policy }) });
}
