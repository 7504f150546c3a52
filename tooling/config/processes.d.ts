import type { ChildProcess } from 'node:child_process';

/** A process and/or a temporary directory a test started. */
export interface Tracked {
  /** The process id; with `group`, the id of its process group. */
  pid?: number;
  /** Whether `pid` leads a process group (spawned `detached`) to kill as a whole. */
  group?: boolean;
  /** The signal that stops it. @default 'SIGKILL' */
  signal?: NodeJS.Signals;
  /** A directory to delete. */
  dir?: string;
}
export declare const RUN_DIR: string;
export declare function alive(pid: number): boolean;
export declare function release(entry: Tracked): void;
export declare function track(entry: Tracked): () => void;
export declare function trackChild<T extends ChildProcess>(child: T): T;
export declare function forkFixture(file: URL | string, args?: string[]): ChildProcess;
