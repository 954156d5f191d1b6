// A streamed artifact for the outputs' tests that records whether the output closed it early.
import { KestrelError } from "../../errors.ts";

/** An async iterable over `chunks` that records whether it was closed early; it fails after `failAfter` chunks when set. */
export function tracked(chunks: Uint8Array[], failAfter?: number) {
  const state = { closed: false, read: 0 };
  const iterator: AsyncIterableIterator<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      if (failAfter !== undefined && state.read === failAfter) throw new KestrelError("ERR_ACTION", "the exec exited with code 1");
      const value = chunks[state.read++];
      return value === undefined ? { value: undefined, done: true } : { value, done: false };
    },
    async return() {
      state.closed = true;
      return { value: undefined, done: true };
    },
  };
  return { iterator, state };
}
