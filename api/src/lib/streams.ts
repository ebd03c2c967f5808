/**
 * An async iterator over `source` that maps each value through `step` (null skips it; `last`
 * ends the stream after that value). Unlike an async generator, `return()` takes effect at once
 * even while waiting for the next source value, so a closed subscription lets go of its
 * listener immediately rather than at the next event.
 */
export function transformStream<T, R>(
  source: AsyncIterator<T>,
  step: (value: T) => { value: R; last?: boolean } | null | Promise<{ value: R; last?: boolean } | null>,
  first?: () => Promise<R>,
): AsyncIterableIterator<R> {
  let finished = false;
  let pendingFirst = first;
  const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
  const stop = async () => {
    finished = true;
    await source.return?.();
  };
  const iterator: AsyncIterableIterator<R> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      if (pendingFirst && !finished) {
        const value = await pendingFirst();
        pendingFirst = undefined;
        return { done: false, value };
      }
      while (!finished) {
        const item = await source.next();
        if (item.done || finished) break;
        // Steps answer synchronously when they can: one await less per subscriber and event.
        const pending = step(item.value);
        const out = pending instanceof Promise ? await pending : pending;
        if (finished) break;
        if (!out) continue;
        if (out.last) await stop();
        return { done: false, value: out.value };
      }
      await stop();
      return done();
    },
    async return() {
      await stop();
      return done();
    },
    async throw(error: unknown) {
      await stop();
      throw error;
    },
  };
  return iterator;
}
