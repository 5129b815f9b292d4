#!/usr/bin/env node
// Runs one ONNX graph on inputs given as .npy files and writes every output as .npy, with the
// onnxruntime-node that clapset itself uses. scripts/export-clap-onnx.py calls it for its check mode
// when the Python `onnxruntime` package is not installed (Debian has none), so the export is checked
// by the same runtime that later serves it. Usage: onnx-run.mjs <model.onnx> <in-dir> <out-dir>
// where <in-dir> holds <input name>.npy (float32 '<f4', bool '|b1', int64 '<i8').
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

const DTYPES = { '<f4': ['float32', Float32Array], '|b1': ['bool', Uint8Array], '<i8': ['int64', BigInt64Array] };

function readNpy(path) {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  const kind = DTYPES[descr];
  if (!kind) throw new Error(`${path}: dtype ${descr} is not supported (${Object.keys(DTYPES).join(', ')})`);
  const [type, Array_] = kind;
  const body = bytes.subarray(start + headerLength);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  const data = new Array_(copy.buffer, 0, body.length / Array_.BYTES_PER_ELEMENT);
  return new ort.Tensor(type, type === 'bool' ? Uint8Array.from(data, (x) => (x ? 1 : 0)) : data, shape);
}

function writeNpy(path, tensor) {
  if (tensor.type !== 'float32') throw new Error(`output of type ${tensor.type}: only float32 outputs are written`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = 1;
  prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const data = tensor.data;
  writeFileSync(path, Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

const [model, inDir, outDir] = process.argv.slice(2);
if (!model || !inDir || !outDir) {
  console.error('usage: onnx-run.mjs <model.onnx> <in-dir> <out-dir>');
  process.exit(2);
}
const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const feeds = {};
for (const file of readdirSync(inDir).filter((f) => f.endsWith('.npy'))) feeds[file.slice(0, -4)] = readNpy(join(inDir, file));
const missing = session.inputNames.filter((name) => !(name in feeds));
if (missing.length > 0) throw new Error(`${model}: no .npy for inputs ${missing.join(', ')}`);
const result = await session.run(feeds);
mkdirSync(outDir, { recursive: true });
for (const name of session.outputNames) writeNpy(join(outDir, `${name}.npy`), result[name]);
console.log(JSON.stringify({ inputs: session.inputNames, outputs: session.outputNames }));
