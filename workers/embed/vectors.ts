/** Scales each `dim`-long row of `data` to unit L2 norm in place (a zero row stays zero). */
export function l2NormalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let offset = 0; offset < data.length; offset += dim) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += data[offset + i]! * data[offset + i]!;
    if (sum === 0) continue;
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < dim; i++) data[offset + i]! *= scale;
  }
  return data;
}

/** Views of each row of a row-major matrix. */
export function rowsOf(data: Float32Array, dim: number): Float32Array[] {
  const rows: Float32Array[] = [];
  for (let offset = 0; offset < data.length; offset += dim) rows.push(data.subarray(offset, offset + dim));
  return rows;
}
