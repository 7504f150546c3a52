// Type-checked by tsconfig.ioredis6.json with `ioredis` resolved to ioredis 6, as in a project
// that installed it: its clients, whatever their reply mapping, are accepted as `client`.
import { Cluster, Redis, type RedisStatus } from 'ioredis';
import { redisBus, redisEvents, redisLock, redisStore } from '../src/index.js';

// RedisStatus is exported by ioredis 6 only: this file fails to compile against ioredis 5.
const status: RedisStatus = 'wait';
const resp3 = new Redis({ protocol: 3, replyMapping: 'resp3', lazyConnect: true });
const cluster = new Cluster([{ port: 7000 }], { lazyConnect: true });

redisStore({ client: new Redis({ lazyConnect: true }) });
redisStore({ client: resp3 });
redisStore({ client: cluster });
redisLock({ client: resp3 });
redisBus({ client: cluster });
redisEvents({ client: resp3 });

export { status };
