import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { openQueue, STAGES } from '../../infra/queues.ts';
import { testQueueContext } from '../helpers/pipeline-fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(ROOT, 'deploy', 'k8s');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: Record<string, unknown> } & Record<string, unknown>;
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { limits?: Record<string, unknown> };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
}

/** The schema each kind is checked against: kubernetes-models' validators (Kubernetes 1.27 OpenAPI) and KEDA's CRD schema. */
const MODELS: Record<string, { validate(): void } & (new (data: never) => { validate(): void })> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
} as never;

function loadManifests(): Map<string, Manifest[]> {
  const byFile = new Map<string, Manifest[]>();
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    const docs = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
    for (const doc of docs) assert.deepEqual(doc.errors, [], `${file} parses`);
    byFile.set(file, docs.map((d) => d.toJS() as Manifest));
  }
  return byFile;
}

const flagValue = (args: readonly string[], flag: string) => {
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
};

const ctx = testQueueContext();
after(() => ctx.close());

test('every Kubernetes manifest is valid against the Kubernetes or KEDA schema, and kustomization lists each file', () => {
  const manifests = loadManifests();
  const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  assert.deepEqual([...kustomization.resources].sort(), [...manifests.keys()].sort());
  let count = 0;
  for (const [file, docs] of manifests) {
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      assert.ok(Model, `${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
      assert.doesNotThrow(() => new Model(doc as never).validate(), `${file}: ${doc.kind} ${doc.metadata?.name}`);
      count++;
    }
  }
  assert.ok(count >= 10, `${count} resources`);
  // The validators do refuse a broken resource (not a schema that accepts anything).
  const broken = structuredClone(manifests.get('worker-cpu.yaml')![0]!) as Manifest & { spec: { replicas: unknown } };
  broken.spec.replicas = 'two';
  assert.throws(() => new Deployment(broken as never).validate(), /replicas must be integer/);
  assert.throws(() => new ScaledObject({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', metadata: { name: 'x' }, spec: { triggers: [] } } as never).validate(), /scaleTargetRef/);
});

test('worker Deployments: queues split CPU/GPU, probes on the metrics endpoints, grace above the drain, KEDA scaling on exactly their queues', () => {
  const all = [...loadManifests().values()].flat();
  const deployments = all.filter((m) => m.kind === 'Deployment');
  const scaled = all.filter((m) => m.kind === 'ScaledObject') as (Manifest & { spec: { scaleTargetRef: { name: string }; triggers: { type: string; metadata: Record<string, string> }[] } })[];
  const config = all.find((m) => m.kind === 'ConfigMap') as Manifest & { data: Record<string, string> };
  const prefix = config.data.CLAPSET_PREFIX!;
  const served: string[] = [];
  for (const name of ['clapset-worker-cpu', 'clapset-worker-gpu']) {
    const deployment = deployments.find((d) => d.metadata.name === name);
    assert.ok(deployment, name);
    const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
    const worker = pod.containers[0]!;
    const args = worker.args ?? [];
    assert.equal(args[0], 'worker');
    const queues = flagValue(args, '--queues')!.split(',');
    served.push(...queues);
    const grace = Number(flagValue(args, '--grace'));
    assert.ok(pod.terminationGracePeriodSeconds! > grace, `${name}: pod grace ${pod.terminationGracePeriodSeconds} s above the drain's ${grace} s`);
    const port = worker.ports!.find((p) => p.name === 'metrics')!;
    assert.equal(String(port.containerPort), flagValue(args, '--metrics-port'));
    assert.deepEqual(worker.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(worker.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.runAsUser, 10001, 'the uid deploy/install-runtime.sh creates');

    const scaler = scaled.find((s) => s.spec.scaleTargetRef.name === name);
    assert.ok(scaler, `${name} has a ScaledObject`);
    assert.deepEqual(scaler.spec.triggers.map((t) => t.type), queues.map(() => 'redis'));
    assert.deepEqual(scaler.spec.triggers.map((t) => t.metadata.listName).sort(), queues.map((q) => `${prefix}:${q}:wait`).sort());
    if (name.endsWith('gpu')) {
      assert.deepEqual(queues.sort(), ['caption', 'embed']);
      assert.equal(flagValue(args, '--device'), 'cuda');
      assert.equal(worker.resources?.limits?.['nvidia.com/gpu'], 1);
      assert.equal(worker.image, 'clapset-gpu');
    } else {
      assert.deepEqual(queues.sort(), ['crawl', 'shard', 'transcode']);
    }
  }
  assert.deepEqual(served.sort(), [...STAGES].sort(), 'together the two deployments serve every queue once');
  const job = all.find((m) => m.kind === 'Job') as Manifest & { spec: { template: { spec: PodSpec } } };
  assert.equal(job.spec.template.spec.containers[0]!.args![0], 'crawl');
  const redis = all.find((m) => m.kind === 'StatefulSet' && m.metadata.name === 'redis') as Manifest & { spec: { template: { spec: PodSpec } } };
  const redisArgs = redis.spec.template.spec.containers[0]!.args!;
  assert.equal(flagValue(redisArgs, '--maxmemory-policy'), 'noeviction');
  assert.equal(flagValue(redisArgs, '--appendonly'), 'yes');
});

test('KEDA\'s signal is real: a job BullMQ adds to a queue is counted in the <prefix>:<queue>:wait list the ScaledObjects read', async () => {
  const queue = openQueue(ctx, 'transcode');
  try {
    await queue.add('chunk', { probe: true });
    await queue.add('chunk', { probe: true });
    assert.equal(await ctx.connection.type(`${ctx.prefix}:transcode:wait`), 'list');
    assert.equal(await ctx.connection.llen(`${ctx.prefix}:transcode:wait`), 2);
  } finally {
    await queue.close();
  }
});

test('compose.yaml: Redis never evicts and keeps an AOF, MinIO and its bucket, scalable workers, a GPU profile, the dashboard', () => {
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as {
    services: Record<string, { image?: string; command?: string[]; container_name?: string; ports?: string[]; profiles?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown>; stop_grace_period?: string; deploy?: { resources: { reservations: { devices: { driver: string; capabilities: string[] }[] } } } }>;
    volumes: Record<string, unknown>;
  };
  const { redis, minio, worker, dashboard } = compose.services;
  const gpu = compose.services['gpu-worker'];
  assert.ok(redis && minio && worker && dashboard && gpu && compose.services.buckets);
  assert.equal(flagValue(redis.command!, '--maxmemory-policy'), 'noeviction');
  assert.equal(flagValue(redis.command!, '--appendonly'), 'yes');
  assert.match(minio.image!, /^minio\/minio/);
  for (const [name, service] of [['worker', worker], ['gpu-worker', gpu]] as const) {
    assert.equal(service.command![0], 'worker', name);
    assert.equal(service.container_name, undefined, `${name}: a fixed name would stop --scale`);
    assert.equal(service.ports, undefined, `${name}: a host port would stop --scale`);
    assert.equal(service.environment?.CLAPSET_REDIS_URL, 'redis://redis:6379');
    assert.equal(service.environment?.CLAPSET_S3_ENDPOINT, 'http://minio:9000');
    assert.equal(flagValue(service.command!, '--metrics-port'), '9464', 'the port the image\'s HEALTHCHECK asks');
    assert.ok(Number.parseInt(service.stop_grace_period!, 10) > Number(flagValue(service.command!, '--grace')), `${name}: stop grace above the drain`);
    for (const dependency of Object.keys(service.depends_on ?? {})) assert.ok(compose.services[dependency], `${name} depends on ${dependency}`);
  }
  assert.deepEqual(gpu.profiles, ['gpu']);
  assert.equal(worker.profiles, undefined);
  assert.equal(flagValue(gpu.command!, '--device'), 'cuda');
  assert.deepEqual(gpu.deploy?.resources.reservations.devices[0], { driver: 'nvidia', count: 'all', capabilities: ['gpu'] });
  assert.equal(dashboard.command![0], 'dashboard');
  assert.ok(dashboard.environment?.CLAPSET_DASHBOARD_TOKEN, 'the dashboard binds beyond loopback, so it needs a token');
  assert.ok(compose.volumes.redis !== undefined && compose.volumes.minio !== undefined);
});

test('the images are thin: every RUN is deploy/install-runtime.sh, non-root, a HEALTHCHECK on /healthz, CUDA 12 + cuDNN for the GPU one', () => {
  for (const file of ['Dockerfile', 'Dockerfile.gpu']) {
    const text = read(file);
    const runs = [...text.matchAll(/^RUN (.*)$/gm)].map((m) => m[1]!);
    assert.ok(runs.length >= 2, file);
    for (const run of runs) assert.match(run, /^bash (deploy|\/tmp)\/install-runtime\.sh (system|build) /, `${file}: ${run}`);
    assert.match(text, /^USER clapset$/m);
    assert.match(text, /^HEALTHCHECK [\s\S]*127\.0\.0\.1:9464\/healthz/m);
    assert.match(text, /node:20-bookworm-slim/);
  }
  assert.match(read('Dockerfile.gpu'), /nvidia\/cuda:12\.[0-9.]+-cudnn-runtime/);
  assert.match(read('Dockerfile.gpu'), /install-runtime\.sh build \/opt\/clapset --gpu/);
});

test('deploy/install-runtime.sh: each step\'s commands (dry run), and a clear refusal of an unknown step', () => {
  const script = join(ROOT, 'deploy', 'install-runtime.sh');
  const dry = (...args: string[]) => spawnSync('bash', [script, ...args, '--dry-run'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(spawnSync('bash', ['-n', script]).status, 0, 'the script parses');

  const system = dry('system');
  assert.equal(system.status, 0, system.stderr);
  assert.match(system.stdout, /^\+ .*apt-get install .*\bffmpeg\b.*\btini\b/m);
  assert.match(system.stdout, /^\+ useradd --system --uid 10001 .*clapset$/m);

  const build = dry('build', '/opt/clapset');
  assert.equal(build.status, 0, build.stderr);
  const steps = build.stdout.trim().split('\n');
  assert.deepEqual(steps.slice(0, 3), ['+ npm ci --no-audit --no-fund', '+ npm run build', '+ npm prune --omit=dev --no-audit --no-fund']);
  assert.ok(!build.stdout.includes('cuda12'), 'no CUDA provider without --gpu');
  assert.match(build.stdout, /^\+ cp -R package\.json package-lock\.json bin dist node_modules \/opt\/clapset\/$/m);
  assert.match(dry('build', '/opt/clapset', '--gpu').stdout, /^\+ env ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node$/m);

  const bad = dry('nonsense');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /install-runtime\.sh system/);
  assert.equal(dry('build').status, 2, 'build without a destination');
});
