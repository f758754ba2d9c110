import { readFileSync } from "node:fs";
import { decodeWav, resample } from "../src/providers/audio/pcm.ts";
import { findPocketsphinx, PocketsphinxRecognizer } from "../src/providers/audio/pocketsphinx.ts";
import { transcriptText } from "../src/core/audio.ts";
const jfk = resample(decodeWav(readFileSync("../shared/models/jfk.wav"))!, 24000).samples;
const r = new PocketsphinxRecognizer(findPocketsphinx()!);
const live = r.live(new AbortController().signal);
live.write(resample({ samples: jfk, sampleRate: 24000 }, 16000).samples);
console.log("whole-resampled", transcriptText(await live.end()));
