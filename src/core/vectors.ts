/** Truncates to `dimensions` and scales to unit length (a zero vector stays zero). */
export function normalise(vector: ArrayLike<number>, dimensions: number): Float32Array {
  const out = new Float32Array(dimensions);
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = vector[i] as number;
    out[i] = v;
    sum += v * v;
  }
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < dimensions; i++) out[i] = (out[i] as number) / norm;
  return out;
}
