/** A small typed event emitter: a listener that throws never breaks the emitter's caller. */
export class Emitter<Events extends { [E in keyof Events]: (payload: any) => void }> {
  readonly #listeners = new Map<keyof Events, Set<(payload: any) => void>>();

  /** Adds `listener` for `event`; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Calls every listener of `event` with `payload`. */
  emit<E extends keyof Events>(event: E, payload: Parameters<Events[E]>[0]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        listener(payload);
      } catch (error) {
        // A faulty listener must neither fail a cache read nor crash the process: report it.
        process.emitWarning(error as Error);
      }
    }
  }
}
