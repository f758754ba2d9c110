import { readFileSync, mkdtempSync } from "node:fs";
import { decodeWav } from "../src/providers/audio/pcm.ts";
import { findPocketsphinx, PocketsphinxRecognizer } from "../src/providers/audio/pocketsphinx.ts";
import { transcriptText } from "../src/core/audio.ts";
const full = decodeWav(readFileSync("../shared/models/jfk.wav"))!;
const r = new PocketsphinxRecognizer(findPocketsphinx()!);
for (const from of [0, 4, 6, 7]) for (const to of [4, 6, 8, 11]) { if (to <= from) continue;
  const jfk = { samples: full.samples.subarray(from * 16000, to * 16000), sampleRate: 16000 };
  const t = await r.transcribe(jfk, mkdtempSync("/tmp/x-"), new AbortController().signal);
  console.log(from, to, transcriptText(t));
}
