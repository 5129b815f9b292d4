import protobuf from 'protobufjs';

/**
 * Writes small ONNX models from TypeScript: the tiny test/demo models the project generates itself
 * (no model hub is reachable), the device probe and the search's scoring graph. Only the subset of
 * onnx.proto needed for inference graphs is declared; field numbers are the official ones, so ONNX
 * Runtime reads the result as any model. Build a graph with `GraphBuilder`, then `encodeModel`.
 */
const ONNX_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; }
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  optional AttributeType type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; optional string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string domain = 7;
}
message StringStringEntryProto { optional string key = 1; optional string value = 2; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
  optional string doc_string = 12;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } optional string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
  optional string denotation = 6;
}
`;

const root = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** ONNX TensorProto.DataType codes for the element types the forges use. */
export const ELEM = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 } as const;
export type ElemType = keyof typeof ELEM;

/** A dimension: a fixed size, or a symbolic name (`batch`, `sequence`) for a dynamic axis. */
export type Dim = number | string;

/** float16 tensors take their IEEE half bit patterns as a Uint16Array. */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

export interface TensorInit {
  name: string;
  type: ElemType;
  dims: readonly number[];
  data: TensorData;
}

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** A node attribute, built with the `attr` helpers (ONNX distinguishes 1 from 1.0, so the type is explicit). */
export interface Attribute {
  readonly proto: Record<string, unknown>;
}

export const attr = {
  int: (value: number | bigint): Attribute => ({ proto: { type: ATTR.INT, i: Number(value) } }),
  float: (value: number): Attribute => ({ proto: { type: ATTR.FLOAT, f: value } }),
  ints: (values: readonly (number | bigint)[]): Attribute => ({ proto: { type: ATTR.INTS, ints: values.map(Number) } }),
  floats: (values: readonly number[]): Attribute => ({ proto: { type: ATTR.FLOATS, floats: [...values] } }),
  string: (value: string): Attribute => ({ proto: { type: ATTR.STRING, s: Buffer.from(value, 'utf8') } }),
  strings: (values: readonly string[]): Attribute => ({ proto: { type: ATTR.STRINGS, strings: values.map((v) => Buffer.from(v, 'utf8')) } }),
  tensor: (value: TensorInit): Attribute => ({ proto: { type: ATTR.TENSOR, t: tensorProto(value) } }),
  graph: (value: GraphBuilder): Attribute => ({ proto: { type: ATTR.GRAPH, g: value.toProto() } }),
};

/** A TensorProto with little-endian raw_data, the layout ONNX Runtime reads fastest. */
export function tensorProto({ name, type, dims, data }: TensorInit): Record<string, unknown> {
  const count = dims.reduce((product, dim) => product * dim, 1);
  if (data.length !== count) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims.join(', ')}] (${count})`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!isLittleEndian()) throw new Error('ONNX raw_data is little-endian; this host is not');
  return { name, data_type: ELEM[type], dims: [...dims], raw_data: bytes };
}

export function valueInfo(name: string, type: ElemType, dims: readonly Dim[]): Record<string, unknown> {
  return {
    name,
    type: { tensor_type: { elem_type: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

/**
 * Accumulates a graph: inputs, outputs, initializers and nodes, with generated names for
 * intermediate values so a forge reads like the computation (`const h = g.op('MatMul', [x, w])`).
 */
export class GraphBuilder {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output; `value` (an existing value's name) is renamed to it with Identity when they differ. */
  output(name: string, type: ElemType, dims: readonly Dim[], value: string = name): string {
    if (value !== name) this.node('Identity', [value], [name]);
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Adds a constant tensor and returns its name. */
  initializer(name: string, type: ElemType, dims: readonly number[], data: TensorData): string {
    this.claim(name);
    this.initializers.push(tensorProto({ name, type, dims, data }));
    return name;
  }

  /** A scalar or 1-D int64 constant (shapes, axes), named automatically. */
  int64s(values: readonly number[], scalar = false): string {
    return this.initializer(this.fresh('const'), 'int64', scalar ? [] : [values.length], BigInt64Array.from(values.map(BigInt)));
  }

  /** A float32 constant, named automatically. */
  float32s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.initializer(this.fresh('const'), 'float32', dims, Float32Array.from(values));
  }

  /** A node with explicit output names; returns them. An empty input name means "absent optional input". */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Record<string, Attribute> = {}, domain = ''): string[] {
    for (const output of outputs) this.claim(output);
    this.nodes.push({
      op_type: opType,
      name: `${opType}_${this.nodes.length}`,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attributes).map(([attrName, value]) => ({ name: attrName, ...value.proto })),
      ...(domain === '' ? {} : { domain }),
    });
    return [...outputs];
  }

  /** A single-output node with a generated output name; returns that name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}): string {
    const [output] = this.node(opType, inputs, [this.fresh(opType.toLowerCase())], attributes);
    return output as string;
  }

  toProto(): Record<string, unknown> {
    return { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  private fresh(stem: string): string {
    let name: string;
    do name = `${stem}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX value ${JSON.stringify(name)} defined twice`);
    this.names.add(name);
  }
}

export interface ModelOptions {
  /** Default opset 17 (LayerNormalization is a standard op from 17); ir_version 8 matches it. */
  opset?: number;
  irVersion?: number;
  producer?: string;
  docString?: string;
  /** Extra opset imports, e.g. `{ 'com.microsoft': 1 }`. */
  extraOpsets?: Record<string, number>;
}

/** Serialises a graph to ONNX ModelProto bytes. */
export function encodeModel(graph: GraphBuilder, options: ModelOptions = {}): Uint8Array {
  const opsetImport = [{ domain: '', version: options.opset ?? 17 }, ...Object.entries(options.extraOpsets ?? {}).map(([domain, version]) => ({ domain, version }))];
  const message = {
    ir_version: options.irVersion ?? 8,
    opset_import: opsetImport,
    producer_name: options.producer ?? 'clapset-forge',
    producer_version: '1',
    doc_string: options.docString ?? '',
    graph: graph.toProto(),
  };
  const problem = ModelProto.verify(message);
  if (problem) throw new Error(`invalid ONNX model: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(message)).finish();
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
