import type { Redis } from 'ioredis';
import { errorMessage, log } from '../log.ts';

/** What `clapset doctor` and the start-up check read from a Redis server. */
export interface RedisHealth {
  /** `maxmemory-policy`, or null when the server tells neither through INFO nor CONFIG. */
  policy: string | null;
  aof: boolean | null;
  /** RDB snapshots configured (`save` not empty), null when CONFIG is disabled. */
  rdb: boolean | null;
  rdbLastSave: string | null;
  usedMemory: number | null;
  /** 0 means no limit. */
  maxMemory: number | null;
}

function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** CONFIG GET, or null where the command is disabled or renamed (managed Redis often does that). */
async function configGet(client: Redis, name: string): Promise<string | null> {
  try {
    const reply = (await client.call('CONFIG', 'GET', name)) as string[];
    return reply.length >= 2 ? reply[1]! : null;
  } catch {
    return null;
  }
}

export async function readRedisHealth(client: Redis): Promise<RedisHealth> {
  const memory = infoFields(await client.info('memory').catch(() => ''));
  const persistence = infoFields(await client.info('persistence').catch(() => ''));
  const number = (value: string | undefined) => (value === undefined || value === '' || !Number.isFinite(Number(value)) ? null : Number(value));
  // INFO carries the policy since Redis 4 and is allowed where CONFIG is not; CONFIG GET is the fallback.
  const policy = memory.get('maxmemory_policy') ?? (await configGet(client, 'maxmemory-policy'));
  const save = await configGet(client, 'save');
  const lastSave = number(persistence.get('rdb_last_save_time'));
  return {
    policy,
    aof: persistence.has('aof_enabled') ? persistence.get('aof_enabled') === '1' : null,
    rdb: save === null ? null : save.trim() !== '',
    rdbLastSave: lastSave ? new Date(lastSave * 1000).toISOString() : null,
    usedMemory: number(memory.get('used_memory')),
    maxMemory: number(memory.get('maxmemory')) ?? number((await configGet(client, 'maxmemory')) ?? undefined),
  };
}

export class EvictionPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvictionPolicyError';
  }
}

const HOW_TO =
  'BullMQ loses jobs when Redis evicts keys. Set it with `redis-cli CONFIG SET maxmemory-policy noeviction` ' +
  '(and `maxmemory-policy noeviction` in redis.conf, or the parameter group of a managed Redis); ' +
  'to run anyway, pass --allow-eviction-policy or set CLAPSET_ALLOW_EVICTION_POLICY=1';

/**
 * Refuses to run against a Redis that may evict keys (or will not say): BullMQ's job hashes and
 * locks would vanish under memory pressure, and with them work nobody notices is gone. `allow`
 * turns the refusal into a warning.
 */
export async function checkEvictionPolicy(client: Redis, options: { allow: boolean; who: string }): Promise<string | null> {
  const policy = (await readRedisHealth(client).catch((error: unknown) => {
    log.warn('could not read the Redis memory policy', { error: errorMessage(error) });
    return null;
  }))?.policy ?? null;
  if (policy === 'noeviction') return policy;
  const problem =
    policy === null
      ? `Redis does not report its maxmemory-policy (INFO and CONFIG GET refused), so ${options.who} cannot tell whether it evicts keys. ${HOW_TO}`
      : `Redis maxmemory-policy is ${policy}, not noeviction: ${options.who} refuses to run. ${HOW_TO}`;
  if (!options.allow) throw new EvictionPolicyError(problem);
  log.warn('Redis may evict keys; running anyway (allowed)', { policy, who: options.who });
  return policy;
}
