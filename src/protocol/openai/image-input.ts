import type { ImagePart } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";

const MEDIA_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;

/** Width and height read from the start of an image file, when the format is recognised. */
export function imageSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) {
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  }
  if (bytes.length >= 10 && bytes.toString("latin1", 0, 3) === "GIF") {
    return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
  }
  if (bytes.length >= 30 && bytes.toString("latin1", 0, 4) === "RIFF" && bytes.toString("latin1", 8, 12) === "WEBP") {
    const kind = bytes.toString("latin1", 12, 16);
    if (kind === "VP8X") return { width: 1 + bytes.readUIntLE(24, 3), height: 1 + bytes.readUIntLE(27, 3) };
    if (kind === "VP8L") {
      const b = bytes.readUInt32LE(21);
      return { width: 1 + (b & 0x3fff), height: 1 + ((b >> 14) & 0x3fff) };
    }
    if (kind === "VP8 ") return { width: bytes.readUInt16LE(26) & 0x3fff, height: bytes.readUInt16LE(28) & 0x3fff };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let offset = 2;
    while (offset + 9 < bytes.length) {
      if (bytes[offset] !== 0xff) return undefined;
      const marker = bytes[offset + 1] as number;
      const length = bytes.readUInt16BE(offset + 2);
      // SOF0–SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: bytes.readUInt16BE(offset + 7), height: bytes.readUInt16BE(offset + 5) };
      }
      offset += 2 + length;
    }
  }
  return undefined;
}

/**
 * Input tokens for one image by OpenAI's published formula: 85 for `low`; otherwise the image is
 * fitted into 2048×2048, its shortest side scaled down to 768, and each 512-pixel tile costs 170
 * on top of the base 85. An image of unknown size (an https URL) is counted as 1024×1024.
 */
export function estimateImageTokens(detail: ImagePart["detail"], size: { width: number; height: number } | undefined): number {
  if (detail === "low") return 85;
  let { width, height } = size ?? { width: 1024, height: 1024 };
  if (width <= 0 || height <= 0) return 85;
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const shrink = Math.min(1, 768 / Math.min(width, height));
  width *= shrink;
  height *= shrink;
  return 85 + 170 * Math.ceil(width / 512) * Math.ceil(height / 512);
}

/** Validates an image URL (https, or a base64 data URL of a supported image type) and normalises the part. */
export function readImage(url: unknown, detail: unknown, param: string): ImagePart {
  if (typeof url !== "string" || url === "") {
    throw invalidRequest(`Invalid '${param}': expected an image URL string.`, param, "invalid_image_url");
  }
  let level: ImagePart["detail"] = "auto";
  if (detail !== undefined && detail !== null) {
    if (detail !== "low" && detail !== "high" && detail !== "auto") {
      throw invalidRequest(`Invalid value for '${param}.detail': expected 'low', 'high' or 'auto'.`, `${param}.detail`, "invalid_value");
    }
    level = detail;
  }
  if (url.startsWith("data:")) {
    const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    if (!match) {
      throw invalidRequest(`Invalid image data URL in '${param}': expected data:image/<type>;base64,<data>.`, param, "invalid_image_url");
    }
    const media = (match[1] as string).toLowerCase();
    if (!(MEDIA_TYPES as readonly string[]).includes(media)) {
      throw invalidRequest(`Invalid image media type '${media}' in '${param}': supported types are ${MEDIA_TYPES.join(", ")}.`, param, "invalid_image_format");
    }
    const data = (match[2] as string).replace(/\s+/g, "");
    if (data === "" || data.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
      throw invalidRequest(`Invalid base64 image data in '${param}'.`, param, "invalid_base64");
    }
    const bytes = Buffer.from(data, "base64");
    return { type: "image", url: `data:${media};base64,${data}`, detail: level, estimatedTokens: estimateImageTokens(level, imageSize(bytes)), param };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidRequest(`Invalid image URL in '${param}'.`, param, "invalid_image_url");
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw invalidRequest(`Invalid image URL in '${param}': use an https URL or a base64 data URL.`, param, "invalid_image_url");
  }
  return { type: "image", url, detail: level, estimatedTokens: estimateImageTokens(level, undefined), param };
}
