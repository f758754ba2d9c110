import { readFileSync } from "node:fs";
import { decodeWav } from "../src/providers/audio/pcm.ts";
import { splitAtPauses, voicedFrames } from "../src/providers/audio/vad.ts";
for (const f of ["/work/shared/models/jfk.wav", "/tmp/jfk6.wav"]) {
  const pcm = decodeWav(readFileSync(f))!;
  const v = await voicedFrames(pcm);
  console.log(f, pcm.sampleRate, v.map((x) => (x ? "#" : ".")).join("").slice(0, 400));
  for (const [t, m] of [[5, 2], [10, 3], [20, 4]]) console.log(t, (await splitAtPauses(pcm, t, m)).map((r) => `${(r.start / 16000).toFixed(2)}-${(r.end / 16000).toFixed(2)}`).join(" "));
}
