import { readFileSync } from "node:fs";
import { NoiseFilter } from "../src/providers/audio/noise-filter.ts";
import { decodeWav, resample } from "../src/providers/audio/pcm.ts";
import { findPocketsphinx, PocketsphinxRecognizer } from "../src/providers/audio/pocketsphinx.ts";
import { transcriptText } from "../src/core/audio.ts";
const jfk = resample(decodeWav(readFileSync("../shared/models/jfk.wav"))!, 24000).samples;
const r = new PocketsphinxRecognizer(findPocketsphinx()!);
for (const type of [undefined, "near_field", "far_field"] as const) {
  const f = type ? new NoiseFilter(type, 24000) : undefined;
  const live = r.live(new AbortController().signal);
  for (let at = 0; at < jfk.length; at += 480) { const c = jfk.subarray(at, at + 480); live.write(resample({ samples: f ? f.process(c) : c, sampleRate: 24000 }, 16000).samples); }
  console.log(type, transcriptText(await live.end()));
}
