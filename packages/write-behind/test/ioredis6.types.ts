// Type-checked by tsconfig.ioredis6.json with `ioredis` resolved to ioredis 6, as in a project
// that installed it: its clients, whatever their reply mapping, are accepted as `client`.
import { Cluster, Redis, type RedisStatus } from 'ioredis';
import { redisStreamQueue } from '../src/redis.js';

// RedisStatus is exported by ioredis 6 only: this file fails to compile against ioredis 5.
const status: RedisStatus = 'wait';
const resp3 = new Redis({ protocol: 3, replyMapping: 'resp3', lazyConnect: true });

redisStreamQueue({ client: resp3, stream: 'writes' });
redisStreamQueue({
  client: new Cluster([{ port: 7000 }], { lazyConnect: true }),
  stream: 'writes',
});

export { status };
