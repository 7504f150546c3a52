import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { reportMissing } from '@cache-tooling/config/missing';
import { track } from '@cache-tooling/config/processes';

export { collectErrors, unexpectedErrors } from './clientErrors.js';

const run = promisify(execFile);
const host = '127.0.0.1';

/** A `redis-server` process this helper started; it is killed when the test process exits. */
export interface RedisServer {
  /** Always `'127.0.0.1'`. */
  readonly host: string;
  /** The port it listens on; {@link RedisServer.restart} keeps it. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Shuts the server down gracefully (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server abruptly (SIGKILL), as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (its data is gone: persistence is off). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
}

/** A Redis Cluster of masters this helper started. */
export interface RedisCluster {
  /** The seed nodes to give `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[];
  /** The servers, one per master. */
  readonly servers: RedisServer[];
  /** Stops every node. */
  stop(): Promise<void>;
}

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /**
   * Extra `redis-server` arguments, such as `['--maxmemory', '10mb']`.
   * @default []
   */
  args?: string[];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findBinary(name: string, envVar: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new Error(`[redis-server] ${envVar}=${fromEnv} is not an executable file`);
  }
  const serverBin = process.env.REDIS_SERVER_BIN;
  if (name === 'redis-cli' && serverBin && isExecutable(join(dirname(serverBin), name))) {
    return join(dirname(serverBin), name);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  throw new Error(
    `[redis-server] \`${name}\` was not found on PATH. The Redis tests start their own servers: ` +
      'install Redis (`apt-get install redis-server`, `brew install redis`) or set ' +
      `${envVar} to the binary's path.`,
  );
}

/**
 * Whether `redis-server` and `redis-cli` are there ({@link startRedis} looks for them). A test file
 * that needs them skips its tests when they are not (`describe.skipIf(!hasRedis())`); what is
 * missing, and how to get it, is listed once at the end of the run.
 */
export function hasRedis(): boolean {
  const missing = (
    [
      ['redis-server', 'REDIS_SERVER_BIN'],
      ['redis-cli', 'REDIS_CLI_BIN'],
    ] as const
  ).filter(([name, envVar]) => {
    try {
      findBinary(name, envVar);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return true;
  reportMissing(
    'Redis',
    `Redis: ${missing.map(([name]) => `\`${name}\``).join(' and ')} not found on PATH. The Redis ` +
      'tests start their own servers: install Redis (`apt-get install redis-server`, ' +
      `\`brew install redis\`) or set ${missing.map(([, envVar]) => envVar).join(' and ')} to ` +
      `${missing.length > 1 ? 'their paths' : 'its path'}.`,
  );
  return false;
}

/** Resolves whether `port` can be bound on 127.0.0.1 right now. */
function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Picks a random port whose cluster bus port (port + 10000) is free too, away from 6379 and
 * from the ephemeral range the kernel hands out to outgoing connections.
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if ((await isPortFree(port)) && (await isPortFree(port + 10_000))) return port;
  }
  throw new Error('[redis-server] no free port found');
}

class PortInUseError extends Error {}

/** Spawns redis-server and resolves once it logs that it accepts connections. */
function spawnServer(
  bin: string,
  port: number,
  dir: string,
  args: string[],
): Promise<ChildProcess> {
  const child = spawn(
    bin,
    [
      '--port',
      String(port),
      '--bind',
      host,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (child.pid !== undefined) child.once('exit', track({ pid: child.pid }));
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        cleanup();
        child.stdout?.resume();
        resolve(child);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      const Failure = /Address already in use/.test(log) ? PortInUseError : Error;
      reject(new Failure(`[redis-server] exited with code ${code} before it was ready:\n${log}`));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function waitForExit(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
    // A paused (SIGSTOP) server only handles SIGTERM once it runs again.
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
  });
}

/**
 * Starts a throwaway `redis-server` on a free port (never 6379) with persistence off and a
 * temporary working directory. Honours `REDIS_SERVER_BIN`; throws a message saying how to
 * install Redis when the binary is missing.
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = findBinary('redis-server', 'REDIS_SERVER_BIN');
  const dir = mkdtempSync(join(tmpdir(), 'cache-redis-'));
  const forgetDir = track({ dir });
  const args = options.args ?? [];
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; !child; attempt++) {
    port = await freePort();
    try {
      child = await spawnServer(bin, port, dir, args);
    } catch (error) {
      // Another process may take the port between the check and the bind: try another.
      if (!(error instanceof PortInUseError) || attempt > 10) {
        rmSync(dir, { recursive: true, force: true });
        forgetDir();
        throw error;
      }
    }
  }
  let current: ChildProcess = child;
  const halt = async (signal: NodeJS.Signals) => {
    await waitForExit(current, signal);
  };
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    get running() {
      return current.exitCode === null && current.signalCode === null;
    },
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      forgetDir();
    },
    kill: () => halt('SIGKILL'),
    async restart() {
      await halt('SIGKILL');
      current = await spawnServer(bin, port, dir, args);
    },
    pause() {
      current.kill('SIGSTOP');
    },
    resume() {
      current.kill('SIGCONT');
    },
  };
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(findBinary('redis-cli', 'REDIS_CLI_BIN'), [
    '-h',
    host,
    '-p',
    String(port),
    ...args,
  ]);
  return stdout;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /**
   * How many masters (no replicas).
   * @default 3
   */
  masters?: number;
}

/**
 * Starts a Redis Cluster of `masters` throwaway nodes joined with
 * `redis-cli --cluster create --cluster-yes`, and resolves once every node reports
 * `cluster_state:ok`.
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${i}.conf`,
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    await cli(
      servers[0]!.port,
      '--cluster',
      'create',
      ...servers.map((server) => `${host}:${server.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    );
    // The nodes agree on the slot map through gossip, which has no event to wait on.
    for (const server of servers) {
      for (let attempt = 0; ; attempt++) {
        if ((await cli(server.port, 'cluster', 'info')).includes('cluster_state:ok')) break;
        if (attempt > 200) throw new Error('[redis-server] cluster did not reach cluster_state:ok');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: servers.map((server) => ({ host, port: server.port })),
    servers,
    stop,
  };
}
