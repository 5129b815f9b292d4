/**
 * ONNX Runtime sessions on exactly the device asked for. The provider list is `[device]` alone —
 * ONNX Runtime still places operators the provider lacks on CPU (graph partitioning), but a device
 * that cannot start is an error, never a quiet run on CPU.
 */
import * as ort from 'onnxruntime-node';
import { deviceError, type Device } from './devices.ts';

export interface SessionOptions {
  device: Device;
  /** Intra-op threads for the CPU provider; ONNX Runtime's default (all cores) when absent. */
  threads?: number;
}

export async function createSession(model: string | Uint8Array, options: SessionOptions): Promise<ort.InferenceSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: [options.device],
    graphOptimizationLevel: 'all',
    // Warnings (e.g. nodes placed on CPU) are worth seeing; verbose/info are not.
    logSeverityLevel: 2,
    ...(options.threads === undefined ? {} : { intraOpNumThreads: options.threads }),
  };
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
  } catch (error) {
    if (options.device !== 'cpu' && isProviderFailure(error)) throw deviceError(options.device, error);
    const where = typeof model === 'string' ? model : 'an in-memory model';
    throw new Error(`cannot load ${where} on ${options.device}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Failures of the provider itself, as opposed to a bad model file. */
function isProviderFailure(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /ExecutionProvider|shared library|backend not found|adapter|webgpu|cuda|vulkan|dawn/i.test(message);
}
