const OBFUSCATION_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Random padding so chunk and event sizes reveal less about token lengths, as OpenAI's
 * `obfuscation` field. Only the length needs to be unpredictable to an observer of encrypted
 * traffic, not secret, so Math.random is enough and keeps this off the per-token hot path's syscalls.
 */
export function obfuscation(contentLength: number): string {
  const length = 16 - (contentLength % 16) + Math.floor(Math.random() * 16);
  let out = "";
  for (let i = 0; i < length; i++) out += OBFUSCATION_CHARS[Math.floor(Math.random() * 62)];
  return out;
}
