/**
 * Interleaves several async iterators, yielding each value as soon as it is ready. Returns the
 * iterators' return values in input order. When the consumer stops early, every source is closed.
 */
export async function* mergeAsync<T, R>(sources: readonly AsyncIterator<T, R>[]): AsyncGenerator<T, R[]> {
  const results = new Array<R>(sources.length);
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T, R> }>>();
  const pull = (index: number): void => {
    const source = sources[index] as AsyncIterator<T, R>;
    pending.set(index, source.next().then((result) => ({ index, result })));
  };
  sources.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        results[index] = result.value;
      } else {
        pull(index);
        yield result.value;
      }
    }
    return results;
  } finally {
    if (pending.size > 0) {
      // Outstanding next() calls settle on their own; close each unfinished source and let errors go.
      for (const index of pending.keys()) {
        const p = pending.get(index);
        p?.catch(() => undefined);
        void sources[index]?.return?.(undefined as never)?.catch?.(() => undefined);
      }
    }
  }
}
