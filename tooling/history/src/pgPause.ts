import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';

function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command may hold spaces and parentheses: the fields after the last ')' are fixed.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * Freezes a PostgreSQL server (SIGSTOP to its postmaster first, so it forks no new backend, then
 * to every process it started) and returns the function that thaws it (SIGCONT, in reverse).
 * Linux only (it reads /proc). `pool` finds the server's data directory.
 */
export async function pausePostgres(pool: pg.Pool): Promise<() => void> {
  const { rows } = await pool.query('SHOW data_directory');
  const dataDir = rows[0].data_directory as string;
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // Exited meanwhile.
    }
  };
  signal(postmaster, 'SIGSTOP');
  const children = childrenOf(postmaster);
  for (const pid of children) signal(pid, 'SIGSTOP');
  const resume = () => {
    process.off('exit', resume);
    for (const pid of children) signal(pid, 'SIGCONT');
    signal(postmaster, 'SIGCONT');
  };
  // A frozen server would not act on the SIGQUIT that stops it when this process exits.
  process.once('exit', resume);
  return resume;
}
