import { readFileSync, writeFileSync } from "node:fs";

/** GGUF value types (GGUF v3) this helper reads or writes by name. */
const GgufType = { Uint32: 4, String: 8, Array: 9 } as const;
type GgufType = number;

/** Sizes of the fixed-size value types: uint8, int8, uint16, int16, uint32, int32, float32, bool, uint64, int64, float64. */
const FIXED_SIZE: Readonly<Record<number, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Reads a GGUF header far enough to know where each section starts. */
class Cursor {
  offset = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.offset);
    this.offset += 8;
    return v;
  }
  string(): string {
    const length = Number(this.u64());
    const s = this.buf.toString("utf8", this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
  skipValue(type: GgufType): void {
    const fixed = FIXED_SIZE[type];
    if (fixed !== undefined) {
      this.offset += fixed;
    } else if (type === GgufType.String) {
      this.string();
    } else if (type === GgufType.Array) {
      const itemType = this.u32() as GgufType;
      const count = Number(this.u64());
      const itemSize = FIXED_SIZE[itemType];
      if (itemSize !== undefined) this.offset += itemSize * count;
      else for (let i = 0; i < count; i++) this.skipValue(itemType);
    } else {
      throw new Error(`unknown GGUF value type ${type}`);
    }
  }
}

function encodeString(s: string): Buffer {
  const bytes = Buffer.from(s, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([length, bytes]);
}

function encodeUint32Kv(key: string, value: number): Buffer {
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(GgufType.Uint32, 0);
  tail.writeUInt32LE(value, 4);
  return Buffer.concat([encodeString(key), tail]);
}

/**
 * Copies a GGUF v3 file to `target` with extra uint32 metadata (for example the FIM token ids
 * `tokenizer.ggml.fim_pre_token_id`, `fim_suf_token_id`, `fim_mid_token_id`). New pairs go after
 * the existing ones; tensor infos are kept as they are (their data offsets are relative to the
 * aligned start of the data section), and the padding before the data is recomputed.
 */
export function writeGgufWithMetadata(source: string, target: string, extra: Readonly<Record<string, number>>): void {
  const buf = readFileSync(source);
  const c = new Cursor(buf);
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error(`${source} is not a GGUF file`);
  c.offset = 4;
  const version = c.u32();
  if (version !== 3) throw new Error(`GGUF version ${version}; only v3 is handled`);
  const tensorCount = c.u64();
  const kvCount = c.u64();
  let alignment = 32;
  for (let i = 0n; i < kvCount; i++) {
    const key = c.string();
    const type = c.u32() as GgufType;
    if (key in extra) throw new Error(`${source} already has ${key}`);
    if (key === "general.alignment" && type === GgufType.Uint32) alignment = buf.readUInt32LE(c.offset);
    c.skipValue(type);
  }
  const kvEnd = c.offset;
  for (let i = 0n; i < tensorCount; i++) {
    c.string();
    const dims = c.u32();
    c.offset += 8 * dims + 4 + 8;
  }
  const infosEnd = c.offset;
  const dataStart = Math.ceil(infosEnd / alignment) * alignment;

  const counts = Buffer.alloc(16);
  counts.writeBigUInt64LE(tensorCount, 0);
  counts.writeBigUInt64LE(kvCount + BigInt(Object.keys(extra).length), 8);
  const head = Buffer.concat([
    buf.subarray(0, 8),
    counts,
    buf.subarray(24, kvEnd),
    ...Object.entries(extra).map(([key, value]) => encodeUint32Kv(key, value)),
    buf.subarray(kvEnd, infosEnd),
  ]);
  const padding = Buffer.alloc((alignment - (head.length % alignment)) % alignment);
  writeFileSync(target, Buffer.concat([head, padding, buf.subarray(dataStart)]));
}

/** Token ids of stories260K's vocabulary used as FIM markers: the byte tokens <0x00>, <0x01>, <0x02>, which text never produces. */
export const STORIES_FIM_TOKENS = { prefix: 3, suffix: 4, middle: 5 } as const;

/** Writes a copy of stories260K with FIM tokens declared, for fill-in-the-middle tests. */
export function writeStoriesWithFim(source: string, target: string): void {
  writeGgufWithMetadata(source, target, {
    "tokenizer.ggml.fim_pre_token_id": STORIES_FIM_TOKENS.prefix,
    "tokenizer.ggml.fim_suf_token_id": STORIES_FIM_TOKENS.suffix,
    "tokenizer.ggml.fim_mid_token_id": STORIES_FIM_TOKENS.middle,
  });
}
