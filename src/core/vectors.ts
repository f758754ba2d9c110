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

/** A vector's little-endian float32 bytes: OpenAI's `base64` embedding encoding, and how vectors are stored. */
export function float32Bytes(vector: Float32Array): Buffer {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  return bytes;
}
