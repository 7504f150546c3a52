/** A user row of the demo's database. */
export interface User {
  id: number;
  name: string;
  updatedAt: Date;
}

/** An in-process stand-in for a slow database: every query takes `latency` ms and is counted. */
export class SlowDatabase {
  queries = 0;
  down = false;
  readonly #users = new Map<number, User>();

  constructor(readonly latency = 40) {
    for (let id = 1; id <= 100; id++) {
      this.#users.set(id, { id, name: `user ${id}`, updatedAt: new Date(0) });
    }
  }

  async findUser(id: number): Promise<User | null> {
    await this.#query();
    return this.#users.get(id) ?? null;
  }

  async countOrders(userId: number, status: 'open' | 'shipped'): Promise<number> {
    await this.#query();
    return (userId * 7 + (status === 'open' ? 1 : 3)) % 11;
  }

  async updateUser(id: number, name: string): Promise<User> {
    await this.#query();
    const user = { id, name, updatedAt: new Date() };
    this.#users.set(id, user);
    return user;
  }

  async #query(): Promise<void> {
    this.queries++;
    await new Promise((resolve) => setTimeout(resolve, this.latency));
    if (this.down) throw new Error('database unreachable');
  }
}
