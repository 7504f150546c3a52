import { describe, expect, test } from 'vitest';
import { WindowClimber } from '../src/windowClimber.js';

// Capacity 1,000: the first step is 62.5 entries.
describe('WindowClimber', () => {
  test('starts by shrinking the window, and keeps going while the hit ratio rises', () => {
    const climber = new WindowClimber(1000, 1);
    const first = climber.next(300, 400, 1000);
    expect(first).toBe(237.5);
    const second = climber.next(first, 410, 1000);
    expect(second).toBeLessThan(first);
    expect(first - second).toBeCloseTo(62.5 * 0.98);
  });

  test('turns back when the hit ratio falls', () => {
    const climber = new WindowClimber(1000, 1);
    const first = climber.next(300, 400, 1000);
    const second = climber.next(first, 390, 1000);
    expect(second).toBeGreaterThan(first);
    // Then keeps growing while the hit ratio rises, by ever smaller steps.
    const third = climber.next(second, 395, 1000);
    expect(third).toBeGreaterThan(second);
    expect(third - second).toBeLessThan(second - first);
  });

  test('starts its steps over when the hit ratio moves by 5 points or more', () => {
    const climber = new WindowClimber(1000, 1);
    let window = 700;
    let hits = 400;
    for (let i = 0; i < 10; i++) window = climber.next(window, hits++, 1000);
    // Ten steps have decayed it below 52 entries; a rise of 10 points makes the next one whole.
    window = climber.next(window, hits + 100, 1000);
    const after = climber.next(window, hits + 101, 1000);
    expect(window - after).toBeCloseTo(62.5);
  });

  test('keeps the window within its least size and 80% of the capacity', () => {
    const shrinking = new WindowClimber(1000, 1);
    let window = 10;
    for (let hits = 0; hits < 20; hits++) window = shrinking.next(window, hits, 1000);
    expect(window).toBe(1);
    expect(shrinking.clamp(5000)).toBe(800);
    // A capacity of one entry: the window is that entry.
    expect(new WindowClimber(1, 1).clamp(0.01)).toBe(1);
  });
});
