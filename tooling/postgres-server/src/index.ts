export {
  findPostgresBin,
  freePort,
  hasPostgres,
  type PostgresConfig,
  type PostgresServer,
  type StartPostgresOptions,
  startPostgres,
} from './postgres.js';
export { startTcpProxy, type TcpProxy } from './proxy.js';
