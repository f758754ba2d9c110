import type { Pcm16 } from "../../core/audio.ts";

/** A canonical 44-byte WAV header for 16-bit mono PCM; `dataBytes` of 0xffffffff marks a stream of unknown length. */
export function wavHeader(sampleRate: number, dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(dataBytes === 0xffffffff ? 0xffffffff : 36 + dataBytes, 4);
  header.write("WAVE", 8, "ascii");
  header.write("fmt ", 12, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** A complete WAV file of the samples. */
export function encodeWav(pcm: Pcm16): Buffer {
  const data = Buffer.from(pcm.samples.buffer, pcm.samples.byteOffset, pcm.samples.byteLength);
  return Buffer.concat([wavHeader(pcm.sampleRate, data.byteLength), data]);
}

/**
 * Reads a RIFF/WAVE file of integer PCM (8, 16, 24 or 32 bits, any channels) into 16-bit mono;
 * undefined for anything else (compressed WAV, another container), which then needs the codec.
 */
export function decodeWav(bytes: Uint8Array): Pcm16 | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 12 || buffer.toString("ascii", 0, 4) !== "RIFF" || buffer.toString("ascii", 8, 12) !== "WAVE") return undefined;
  let offset = 12;
  let format: { channels: number; sampleRate: number; bits: number; tag: number } | undefined;
  while (offset + 8 <= buffer.length) {
    const id = buffer.toString("ascii", offset, offset + 4);
    let size = buffer.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt " && size >= 16 && body + 16 <= buffer.length) {
      format = { tag: buffer.readUInt16LE(body), channels: buffer.readUInt16LE(body + 2), sampleRate: buffer.readUInt32LE(body + 4), bits: buffer.readUInt16LE(body + 14) };
    } else if (id === "data") {
      if (format === undefined || format.tag !== 1 || format.channels < 1 || format.sampleRate < 1 || ![8, 16, 24, 32].includes(format.bits)) return undefined;
      // A streamed WAV declares an unknown length: the data runs to the end of the file.
      if (size === 0xffffffff || body + size > buffer.length) size = buffer.length - body;
      const width = format.bits / 8;
      const frames = Math.floor(size / (width * format.channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < format.channels; c++) {
          const at = body + (i * format.channels + c) * width;
          sum += width === 1 ? (buffer.readUInt8(at) - 128) << 8 : width === 2 ? buffer.readInt16LE(at) : width === 3 ? buffer.readIntLE(at, 3) >> 8 : buffer.readInt32LE(at) >> 16;
        }
        samples[i] = Math.round(sum / format.channels);
      }
      return { samples, sampleRate: format.sampleRate };
    }
    offset = body + size + (size % 2);
  }
  return undefined;
}

/** Chunks of samples as one array. */
export function concatSamples(chunks: readonly Int16Array[]): Int16Array {
  const all = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Linear-interpolation resampling (speech engines need 16 kHz in and give 22,050 Hz out). */
export function resample(pcm: Pcm16, rate: number): Pcm16 {
  if (pcm.sampleRate === rate || pcm.samples.length === 0) return { samples: pcm.samples, sampleRate: rate };
  const ratio = pcm.sampleRate / rate;
  const length = Math.max(1, Math.floor(pcm.samples.length / ratio));
  const out = new Int16Array(length);
  const last = pcm.samples.length - 1;
  for (let i = 0; i < length; i++) {
    const at = i * ratio;
    const j = Math.floor(at);
    const a = pcm.samples[Math.min(j, last)] as number;
    const b = pcm.samples[Math.min(j + 1, last)] as number;
    out[i] = Math.round(a + (b - a) * (at - j));
  }
  return { samples: out, sampleRate: rate };
}
