/**
 * The body of one feature thread (workers/embed/feature-pool.ts): CLAP features of the PCM it is
 * sent, with the same `clipFeatures` the main thread would run, so the bytes are the same.
 */
import { parentPort } from 'node:worker_threads';
import { type ClipFeatureOptions, clipFeatures } from './fusion.ts';

export interface FeatureTask {
  id: number;
  pcm: Float32Array;
  options: ClipFeatureOptions;
}

export type FeatureReply = { id: number; data: Float32Array; shape: [number, number, number]; longer: boolean } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('feature-thread.ts runs as a worker thread (workers/embed/feature-pool.ts)');
port.on('message', (task: FeatureTask) => {
  let reply: FeatureReply;
  try {
    const features = clipFeatures(task.pcm, task.options);
    // A fresh array of its own (stack() builds one), so its buffer can be handed over without a copy.
    const data = features.data.byteOffset === 0 && features.data.byteLength === features.data.buffer.byteLength ? features.data : features.data.slice();
    reply = { id: task.id, data, shape: features.shape, longer: features.longer };
    port.postMessage(reply, [data.buffer as ArrayBuffer]);
  } catch (error) {
    reply = { id: task.id, error: error instanceof Error ? error.message : String(error) };
    port.postMessage(reply);
  }
});
