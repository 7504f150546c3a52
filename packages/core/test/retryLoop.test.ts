import { afterEach, expect, test, vi } from 'vitest';
import { RetryLoop } from '../src/retryLoop.js';

afterEach(() => {
  vi.useRealTimers();
});

test('rounds that keep failing back off even while the target answers other calls', async () => {
  vi.useFakeTimers();
  let rounds = 0;
  const loop = new RetryLoop(async () => {
    rounds++;
    return { failed: true, remaining: true };
  });
  loop.schedule();
  // The store answers reads every 10 ms for 10 s (the writes the rounds make keep failing).
  for (let t = 0; t < 10_000; t += 10) {
    loop.answered();
    await vi.advanceTimersByTimeAsync(10);
  }
  loop.close();
  // The timer alone runs about 8 rounds in 10 s (100, 200, …, 5,000 ms apart); answered() may
  // run one more per quarter of the backoff, not one per 100 ms (about 100).
  expect(rounds).toBeLessThan(20);
});
