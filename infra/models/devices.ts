/**
 * Which ONNX Runtime devices work on this host, for `clapset doctor` and for failing fast.
 *
 * onnxruntime-node 1.30 on Linux x64 bundles the CPU and WebGPU (Dawn over Vulkan) execution
 * providers; CUDA's provider libraries are downloaded by its install script only on hosts that do not
 * skip it (ONNXRUNTIME_NODE_INSTALL / `.npmrc`), and need CUDA 12 at run time. "Bundled" is what the
 * package says; "available" is whether a one-node model actually ran there — the only reliable test.
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, GraphBuilder } from './onnx-builder.ts';

export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

export function parseDevice(value: string): Device {
  const device = value.trim().toLowerCase();
  if ((DEVICES as readonly string[]).includes(device)) return device as Device;
  throw new DeviceUnavailableError(value as Device, `unknown device ${JSON.stringify(value)}: choose one of ${DEVICES.join(', ')}`);
}

/** An execution provider that cannot run here. Never answered with a silent CPU fallback. */
export class DeviceUnavailableError extends Error {
  constructor(
    readonly device: Device,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceUnavailableError';
  }
}

const HINTS: Record<Device, string> = {
  cpu: 'the CPU provider ships inside onnxruntime-node; a failure here means a broken install',
  webgpu:
    'onnxruntime-node bundles WebGPU (Dawn over Vulkan) but found no usable adapter: the host needs libvulkan1 and a GPU Vulkan driver (NVIDIA: the Vulkan ICD from the driver package); see docs/captions.md',
  cuda: 'the CUDA provider is not installed: onnxruntime-node ships CPU and WebGPU only, and installs CUDA 12 provider libraries only when its install script runs (ONNXRUNTIME_NODE_INSTALL not set to skip) on a host with CUDA 12; see docs/captions.md',
};

/** Rewrites ONNX Runtime's terse failure into one that names the device and the remedy. */
export function deviceError(device: Device, cause: unknown): DeviceUnavailableError {
  const detail = cause instanceof Error ? cause.message.trim().split('\n')[0] : String(cause);
  const error = new DeviceUnavailableError(device, `device ${device} is not available on this host: ${HINTS[device]} (onnxruntime: ${detail})`);
  error.cause = cause;
  return error;
}

export interface DeviceReport {
  device: Device;
  /** onnxruntime-node ships this provider inside the package (listSupportedBackends). */
  bundled: boolean;
  /** A one-node model was created and run on it. */
  available: boolean;
  /** Why not, or the probe's run time. */
  detail: string;
}

let probeModel: Uint8Array | null = null;

/** y = x + x: small enough for every provider, real enough that a session must be placed. */
function probeGraph(): Uint8Array {
  if (probeModel) return probeModel;
  const g = new GraphBuilder('clapset_device_probe');
  const x = g.input('x', 'float32', [4]);
  g.output('y', 'float32', [4], g.op('Add', [x, x]));
  probeModel = encodeModel(g, { docString: 'clapset device probe' });
  return probeModel;
}

/** Probes each device by creating and running a one-node session with only that provider. */
export async function probeDevices(devices: readonly Device[] = DEVICES): Promise<DeviceReport[]> {
  const bundled = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const reports: DeviceReport[] = [];
  for (const device of devices) {
    const started = performance.now();
    try {
      const session = await ort.InferenceSession.create(probeGraph(), { executionProviders: [device] });
      try {
        const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]) });
        const y = Array.from(out.y?.data as Float32Array);
        if (y.join(',') !== '2,4,6,8') throw new Error(`probe computed ${y.join(',')} instead of 2,4,6,8`);
      } finally {
        await session.release();
      }
      reports.push({ device, bundled: bundled.get(device) ?? false, available: true, detail: `ran a probe in ${(performance.now() - started).toFixed(0)} ms` });
    } catch (error) {
      reports.push({ device, bundled: bundled.get(device) ?? false, available: false, detail: deviceError(device, error).message });
    }
  }
  return reports;
}
