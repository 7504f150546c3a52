import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from '@cache-tooling/config/processes';
import type { WorkerSettings } from './workerSettings.js';

/** A running worker.ts process, and the messages it sends. */
export class WorkerProcess {
  readonly child: ChildProcess;
  /** Whether the runner killed it (an exit it did not cause is a failure of the run). */
  killed = false;
  readonly #listeners = new Set<(message: { event: string; key?: string }) => void>();

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (message: { event: string; key?: string }) => {
      for (const listener of this.#listeners) listener(message);
    });
  }

  /**
   * Forks a worker (through tsx, reading the workspace packages from source, with `--expose-gc`)
   * tracked by the process registry, and resolves once it is ready.
   */
  static async start(settings: WorkerSettings): Promise<WorkerProcess> {
    const child = trackChild(
      fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [JSON.stringify(settings)], {
        execArgv: ['--import', 'tsx', '--conditions=@cache/source', '--expose-gc'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const worker = new WorkerProcess(child);
    await worker.next('ready', undefined, 60_000);
    return worker;
  }

  /** Resolves with the next message `event` (of `key`); rejects after `timeout` ms or if it exits. */
  next(event: string, key: string | undefined, timeout: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        this.child.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const listener = (message: { event: string; key?: string }) => {
        if (message.event === event && (key === undefined || message.key === key)) done();
      };
      const onExit = (code: number | null, signal: string | null) =>
        done(new Error(`worker exited (${code ?? signal}) before '${event}'`));
      const timer = setTimeout(
        () => done(new Error(`no '${event}' within ${timeout} ms`)),
        timeout,
      );
      this.#listeners.add(listener);
      this.child.once('exit', onExit);
    });
  }

  /** Sends a command. */
  send(command: object): void {
    this.child.send(command);
  }

  /** SIGKILLs it and resolves once it exited. */
  async kill(): Promise<void> {
    this.killed = true;
    await this.#exit(() => this.child.kill('SIGKILL'));
  }

  /** Asks it to stop (drain write-behind, close); SIGKILLs it after `timeout` ms. */
  async stop(timeout: number): Promise<void> {
    this.killed = true;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeout);
    await this.#exit(() => this.send({ cmd: 'stop' }));
    clearTimeout(timer);
  }

  #exit(cause: () => void): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      cause();
    });
  }
}
