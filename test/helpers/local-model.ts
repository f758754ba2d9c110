import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { LocalModel } from "../../src/providers/local/local-model.ts";
import { STORIES } from "./server.ts";

/** A local model loaded in this process as src/main/models.ts loads one (one thread: the tiny models are fastest so), and its llama. */
export interface LoadedTestModel {
  llama: Llama;
  model: LocalModel;
  dispose(): Promise<void>;
}

/** Loads `path` (stories260K by default) on the CPU, for tests that drive the engine without a server. */
export async function loadTestModel(path = STORIES, id = "stories"): Promise<LoadedTestModel> {
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0, logLevel: LlamaLogLevel.error });
  const model = await LocalModel.load(llama, {
    id,
    path,
    aliases: [],
    contextSize: 2048,
    sequences: 4,
    threads: 1,
    batchSize: 512,
    queueSize: 64,
    minPrefixReuse: 32,
    samplingTopK: 40,
    pricing: undefined,
    chatTemplate: undefined,
    prefixStore: undefined,
  });
  return {
    llama,
    model,
    async dispose() {
      await model.dispose();
      await llama.dispose();
    },
  };
}
