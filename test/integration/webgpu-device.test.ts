/**
 * The GPU code path, run without a GPU: onnxruntime-node's bundled WebGPU provider (Dawn over Vulkan)
 * on SwiftShader, the CPU Vulkan driver Debian's chromium package ships. The whole demo (batched T5
 * captions and CLAP audio/text embeddings, the forged published-layout models) runs once with
 * CLAPSET_DEVICE=webgpu and once on cpu; the results must agree.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import tar from 'tar-stream';
import { lastJsonLine } from '../helpers/cli.ts';
import { testQueueContext, TEST_REDIS_URL } from '../helpers/pipeline-fixtures.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const BIN = resolve('bin/clapset.js');
const ctx = testQueueContext();
let work = '';

before(async () => {
  await access(SWIFTSHADER_ICD).catch(() => {
    throw new Error(`${SWIFTSHADER_ICD} is missing: apt-get install chromium (npm test installs it)`);
  });
  work = await mkdtemp(join(tmpdir(), 'clapset-webgpu-'));
});

after(async () => {
  await ctx.close();
  await rm(work, { recursive: true, force: true });
});

function runDemo(out: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--out', out], { env: { ...process.env, CLAPSET_REDIS_URL: TEST_REDIS_URL, CLAPSET_PREFIX: ctx.prefix, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** Rows of a little-endian float32 .npy matrix. */
function npyRows(bytes: Buffer): Float32Array[] {
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const [rows, cols] = /'shape': \((\d+), (\d+)\)/.exec(header)!.slice(1).map(Number) as [number, number];
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
  return Array.from({ length: rows }, (_, i) => data.subarray(i * cols, (i + 1) * cols));
}

/** key → [T5 captions, caption device] of every sample of a dataset's tars. */
async function captions(dataset: string): Promise<Map<string, [unknown, unknown]>> {
  const found = new Map<string, [unknown, unknown]>();
  for (const split of ['train', 'test']) {
    for (const name of (await readdir(join(dataset, split))).filter((n) => n.endsWith('.tar'))) {
      const extract = tar.extract();
      const done = new Promise<void>((ok, fail) => {
        extract.on('entry', (header, stream, next) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
          stream.on('end', () => {
            if (header.name.endsWith('.json')) {
              const sample = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key: string; text_augment_t5: unknown; caption_provenance: { device: unknown } };
              found.set(sample.key, [sample.text_augment_t5, sample.caption_provenance.device]);
            }
            next();
          });
        });
        extract.on('finish', ok);
        extract.on('error', fail);
      });
      extract.end(await readFile(join(dataset, split, name)));
      await done;
    }
  }
  return found;
}

test('caption and embed stages on webgpu (SwiftShader) match cpu: same captions, embeddings within 1e-5', async (t) => {
  const xdg = await mkdtemp(join(work, 'xdg-'));
  const gpu = await runDemo(join(work, 'webgpu'), { CLAPSET_DEVICE: 'webgpu', VK_ICD_FILENAMES: SWIFTSHADER_ICD, XDG_RUNTIME_DIR: xdg });
  assert.equal(gpu.code, 0, gpu.stderr.slice(-3000));
  const cpu = await runDemo(join(work, 'cpu'), { CLAPSET_DEVICE: 'cpu' });
  assert.equal(cpu.code, 0, cpu.stderr.slice(-3000));
  assert.deepEqual(lastJsonLine<{ samples: number }>(gpu.stdout).samples, 18);
  assert.deepEqual(lastJsonLine<{ samples: number }>(cpu.stdout).samples, 18);

  const onGpu = await captions(join(work, 'webgpu'));
  const onCpu = await captions(join(work, 'cpu'));
  assert.equal(onGpu.size, 18);
  let captioned = 0;
  for (const [key, [text, device]] of onGpu) {
    const [cpuText, cpuDevice] = onCpu.get(key) ?? [];
    assert.deepEqual(text, cpuText, `${key}: same T5 captions`);
    if (text !== null) {
      captioned++;
      assert.equal(device, 'webgpu', `${key} was captioned on webgpu`);
      assert.equal(cpuDevice, 'cpu');
    }
  }
  assert.ok(captioned >= 10, `${captioned} clips captioned`);

  let worst = 0;
  let rows = 0;
  let identical = true;
  for (const split of ['train', 'test']) {
    for (const name of (await readdir(join(work, 'webgpu', 'embeddings', split))).filter((n) => n.endsWith('.npy'))) {
      const a = npyRows(await readFile(join(work, 'webgpu', 'embeddings', split, name)));
      const b = npyRows(await readFile(join(work, 'cpu', 'embeddings', split, name)));
      assert.equal(a.length, b.length, name);
      for (const [i, row] of a.entries()) {
        rows++;
        for (const [j, value] of row.entries()) {
          const diff = Math.abs(value - b[i]![j]!);
          worst = Math.max(worst, diff);
          if (diff !== 0) identical = false;
        }
      }
    }
  }
  t.diagnostic(`${rows} embedding rows (audio and text); largest difference webgpu vs cpu ${worst.toExponential(2)}`);
  assert.ok(rows >= 36, `${rows} rows compared`);
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  // Bit-identical results would mean the embed stage never left the CPU.
  assert.equal(identical, false, 'the webgpu run computed its own embeddings');
});
