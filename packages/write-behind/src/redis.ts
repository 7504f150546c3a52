export {
  RedisStreamQueue,
  type RedisStreamQueueOptions,
  redisStreamQueue,
} from './redisStreamQueue.js';
