import { setTimeout as sleep } from 'node:timers/promises';

/** A user of the example. */
export interface User {
  id: number;
  name: string;
}

/**
 * The database: an in-process table with the latency of a remote one, and a switch that makes it
 * fail, to watch stale serves and load errors on the dashboard.
 */
export class UserDatabase {
  readonly rows = new Map<number, User>([
    [1, { id: 1, name: 'Ada' }],
    [2, { id: 2, name: 'Grace' }],
    [3, { id: 3, name: 'Edsger' }],
  ]);
  down = false;

  constructor(readonly latencyMs = 50) {}

  async find(id: number): Promise<User | undefined> {
    await sleep(this.latencyMs);
    if (this.down) throw new Error('database unavailable');
    return this.rows.get(id);
  }

  async save(users: User[]): Promise<void> {
    await sleep(this.latencyMs);
    if (this.down) throw new Error('database unavailable');
    for (const user of users) this.rows.set(user.id, user);
  }
}
