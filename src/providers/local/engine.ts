import { availableParallelism } from "node:os";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import type { Logger } from "../../logging/logger.ts";
import { LocalModel, type LocalModelSpec } from "./local-model.ts";

/** Below this file size a model is "tiny" and defaults to one thread. */
const TINY_MODEL_BYTES = 100 * 1024 * 1024;

/** Where the engine may run. `cpu` never probes GPU backends. */
export type GpuChoice = "auto" | "cuda" | "vulkan" | "metal" | "cpu";

/**
 * The one owner of the native llama.cpp runtime: creates the Llama instance, loads models into it
 * and disposes of everything on shutdown.
 */
export class LocalEngine {
  readonly #llama: Llama;
  readonly #models: LocalModel[] = [];

  private constructor(llama: Llama) {
    this.#llama = llama;
  }

  /** Starts the runtime from node-llama-cpp's prebuilt binaries; it never compiles at run time. */
  static async create(gpu: GpuChoice, logger: Logger): Promise<LocalEngine> {
    const llama = await getLlama({
      build: "never",
      gpu: gpu === "cpu" ? false : gpu,
      // Every context gets an explicit thread count; 0 turns off node-llama-cpp's thread splitter,
      // which otherwise re-reserves threads around each decode and slows a busy server down.
      maxThreads: 0,
      logLevel: LlamaLogLevel.error,
      logger: (level, message) => {
        const text = message.trim();
        if (text !== "" && (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)) logger.warn("llama.cpp", { message: text });
      },
    });
    logger.info("engine ready", { gpu: llama.gpu === false ? "cpu" : llama.gpu });
    return new LocalEngine(llama);
  }

  /**
   * The default thread count for a model file. Tiny models (under 100 MB) run many times faster on
   * one thread, because synchronising threads costs more than their per-token work (bench:threads:
   * 1,500 vs 90 tokens/s on 2 cores); larger models get every core the process may use.
   */
  static defaultThreads(modelBytes: number): number {
    return modelBytes < TINY_MODEL_BYTES ? 1 : Math.max(1, availableParallelism());
  }

  async loadModel(spec: LocalModelSpec): Promise<LocalModel> {
    const model = await LocalModel.load(this.#llama, spec);
    this.#models.push(model);
    return model;
  }

  async dispose(): Promise<void> {
    for (const model of this.#models.splice(0)) await model.dispose();
    await this.#llama.dispose();
  }
}
