import type { Config } from "../config/schema.ts";
import type { CleanupStack } from "../core/cleanup-stack.ts";
import type { Pricing } from "../core/pricing.ts";
import type { Logger } from "../logging/logger.ts";
import { LocalSpeechModel, LocalTranscriptionModel } from "../providers/audio/audio-models.ts";
import { findPocketsphinx } from "../providers/audio/pocketsphinx.ts";
import type { ModelRegistry } from "../services/model-registry.ts";

/** Speech models answer to `tts-local`, transcription models to `stt-local`, and to their aliases. */
export const SPEECH_MODEL_ID = "tts-local";
export const TRANSCRIPTION_MODEL_ID = "stt-local";

function pricing(p: Config["audio"]["speechPricing"]): Pricing | undefined {
  return p && { input: p.input, output: p.output, cachedInput: p.cachedInput ?? p.input };
}

/**
 * Adds the built-in audio models after every other model, so a name a config gives another model
 * (an upstream `whisper-1`, say) keeps it. Transcription needs PocketSphinx's English model (Debian's
 * `pocketsphinx` and `pocketsphinx-en-us`); without it the model is not listed.
 */
export function addAudioModels(config: Config, registry: ModelRegistry, logger: Logger, cleanup: CleanupStack): void {
  const free = (names: readonly string[]): string[] => names.filter((n) => !registry.has(n));
  if (config.audio.speech && !registry.has(SPEECH_MODEL_ID)) {
    const model = new LocalSpeechModel({ id: SPEECH_MODEL_ID, aliases: free(config.audio.speechAliases), pricing: pricing(config.audio.speechPricing) }, config.audio.language);
    registry.add(model);
    cleanup.defer("speech model", () => model.dispose());
  }
  if (config.audio.transcription && !registry.has(TRANSCRIPTION_MODEL_ID)) {
    const files = findPocketsphinx();
    if (files === undefined) {
      logger.info("no transcription model: PocketSphinx is not installed (Debian: apt-get install pocketsphinx pocketsphinx-en-us)");
      return;
    }
    registry.add(new LocalTranscriptionModel({ id: TRANSCRIPTION_MODEL_ID, aliases: free(config.audio.transcriptionAliases), pricing: pricing(config.audio.transcriptionPricing) }, files));
  }
}
