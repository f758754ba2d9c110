/**
 * G.711 μ-law and A-law (ITU-T G.711), the 8 kHz telephone codecs realtime sessions may speak:
 * one byte per sample, companded from 16-bit linear PCM.
 */

const BIAS = 0x84;
const CLIP = 32635;

/** 16-bit linear samples to μ-law bytes. */
export function encodeMulaw(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) {
    let s = samples[i] as number;
    const sign = s < 0 ? 0x80 : 0;
    if (s < 0) s = -s;
    s = Math.min(s, CLIP) + BIAS;
    let exponent = 7;
    for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
    const mantissa = (s >> (exponent + 3)) & 0x0f;
    out[i] = ~(sign | (exponent << 4) | mantissa) & 0xff;
  }
  return out;
}

/** μ-law bytes to 16-bit linear samples. */
export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const u = ~(bytes[i] as number) & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = ((((u & 0x0f) << 3) + BIAS) << exponent) - BIAS;
    out[i] = u & 0x80 ? -magnitude : magnitude;
  }
  return out;
}

/** 16-bit linear samples to A-law bytes. */
export function encodeAlaw(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length);
  for (let i = 0; i < samples.length; i++) {
    let s = samples[i] as number;
    const sign = s >= 0 ? 0x80 : 0;
    if (s < 0) s = -s - 1;
    s = Math.min(s, 32767) >> 3;
    let byte: number;
    if (s < 32) byte = s >> 1;
    else {
      let exponent = 1;
      while (s >= 64 && exponent < 7) {
        s >>= 1;
        exponent++;
      }
      byte = (exponent << 4) | ((s >> 1) & 0x0f);
    }
    out[i] = (byte | sign) ^ 0x55;
  }
  return out;
}

/** A-law bytes to 16-bit linear samples. */
export function decodeAlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const a = (bytes[i] as number) ^ 0x55;
    const exponent = (a >> 4) & 0x07;
    let magnitude = ((a & 0x0f) << 4) + 8;
    if (exponent !== 0) magnitude = (magnitude + 0x100) << (exponent - 1);
    out[i] = a & 0x80 ? magnitude : -magnitude;
  }
  return out;
}
