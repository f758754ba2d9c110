/**
 * Undo steps for resources as they are created, run last-in first-out: the ones created later
 * depend on the ones created earlier, so they must go first. One stack serves both a start that
 * fails half-way and the normal shutdown, so no resource is ever released in one path and
 * forgotten in the other.
 */
export class CleanupStack {
  readonly #steps: { name: string; run: () => unknown }[] = [];

  /** Adds the step that releases a resource just created; `name` appears in the error when it fails. */
  defer(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  /**
   * Runs every step, newest first, each once. A failing step does not stop the others (a half-closed
   * process is worse than a reported error); the failures are passed to `onError`.
   */
  async run(onError: (name: string, error: unknown) => void = () => undefined): Promise<void> {
    for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
      try {
        await step.run();
      } catch (error) {
        onError(step.name, error);
      }
    }
  }

  /**
   * Runs `build`; if it throws, unwinds everything deferred so far and rethrows the original error,
   * so a failed start leaves nothing open and reports the reason it failed, not a cleanup error.
   */
  async guard<T>(build: () => Promise<T>, onError?: (name: string, error: unknown) => void): Promise<T> {
    try {
      return await build();
    } catch (error) {
      await this.run(onError);
      throw error;
    }
  }
}
