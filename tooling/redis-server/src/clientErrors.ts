import type { EventEmitter } from 'node:events';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Listens to the `error` events of an ioredis client a test created and returns the array they are
 * collected in. Without a listener, ioredis prints each one ("[ioredis] Unhandled error event:
 * ECONNREFUSED") while a test has the server stopped, killed or restarting.
 */
export function collectErrors(client: EventEmitter): Error[] {
  const errors: Error[] = [];
  client.on('error', (error: Error) => errors.push(error));
  return errors;
}

/**
 * The errors in `errors` other than failing to reach the server (refused, reset, broken pipe),
 * which is all a client should see while a test has its server down: assert this is empty.
 */
export function unexpectedErrors(errors: Error[]): Error[] {
  return errors.filter(
    (error) => !CONNECTION_CODES.has((error as NodeJS.ErrnoException).code ?? ''),
  );
}
