import * as ort from 'onnxruntime-node';
import { attr, encodeModel, GraphBuilder } from '../infra/models/onnx-builder.ts';
import { createSession } from '../infra/models/session.ts';

/** One scored row of a block: its cosine with the query and its index in the block. */
export interface BlockHit {
  score: number;
  row: number;
}

/**
 * Scores blocks of unit-norm embedding rows against a query in ONNX Runtime: `MatMul` then `TopK`,
 * so the dot products run in MLAS's SIMD kernels on every core and only the block's k best leave
 * native code. Measured ~10× faster than a JS loop over the same rows (1M × 512 in ~0.1 s on two
 * cores), which makes a 1M-row search bound by reading the matrices, not by scoring them.
 */
export class BlockScorer {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<BlockScorer> {
    return new BlockScorer(await createSession(scoringModel(), { device: 'cpu' }));
  }

  /**
   * The `k` best rows of `block` (`rows` × query.length values, row-major), best first; equal
   * scores keep block order (ONNX TopK puts the lower index first).
   */
  async best(block: Float32Array, rows: number, query: Float32Array, k: number): Promise<BlockHit[]> {
    const take = Math.min(k, rows);
    if (take === 0) return [];
    const outputs = await this.session.run({
      matrix: new ort.Tensor('float32', block, [rows, query.length]),
      query: new ort.Tensor('float32', query, [query.length, 1]),
      k: new ort.Tensor('int64', BigInt64Array.of(BigInt(take)), [1]),
    });
    const scores = outputs.scores!.data as Float32Array;
    const indices = outputs.rows!.data as BigInt64Array;
    return Array.from(scores, (score, i) => ({ score, row: Number(indices[i]) }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** matrix (rows × dim) · query (dim × 1) → the k largest products and their row indices. */
function scoringModel(): Uint8Array {
  const g = new GraphBuilder('clapset-search-scorer');
  const matrix = g.input('matrix', 'float32', ['rows', 'dim']);
  const query = g.input('query', 'float32', ['dim', 1]);
  const k = g.input('k', 'int64', [1]);
  const products = g.op('Reshape', [g.op('MatMul', [matrix, query]), g.int64s([-1])]);
  const [scores, rows] = g.node('TopK', [products, k], ['top_scores', 'top_rows'], { axis: attr.int(0), largest: attr.int(1), sorted: attr.int(1) });
  g.output('scores', 'float32', ['k'], scores);
  g.output('rows', 'int64', ['k'], rows);
  return encodeModel(g, { producer: 'clapset' });
}
