import { appendFileSync } from 'node:fs';
import type { Entry } from './history.js';

/**
 * Appends entries to a JSONL file, in batches every `interval` ms (and at exit): a SIGKILL loses
 * at most the last batch, which only hides operations from the checker, never invents one.
 */
export class HistoryLog {
  readonly #file: string;
  #lines: string[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(file: string, interval = 50) {
    this.#file = file;
    this.#timer = setInterval(() => this.flush(), interval);
    this.#timer.unref();
    process.once('exit', () => this.flush());
  }

  /** Queues one entry. */
  add(entry: Entry): void {
    this.#lines.push(JSON.stringify(entry));
  }

  /** Writes what is queued. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const text = this.#lines.join('\n') + '\n';
    this.#lines = [];
    appendFileSync(this.#file, text);
  }

  /** Writes what is queued and stops the timer. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
  }
}
