import { afterEach, describe, expect, test, vi } from 'vitest';
import { RecentWrites } from '../src/recentWrites.js';

describe('RecentWrites', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function follow(window = 1000) {
    const redone: string[] = [];
    return { recent: new RecentWrites(window, (key) => redone.push(key)), redone };
  }

  test.each([
    ['', false],
    [' (a key written again after an earlier write landed)', true],
  ])('a write heard while under way is redone once it ends, once%s', (_, landedBefore) => {
    const { recent, redone } = follow();
    if (landedBefore) {
      recent.started(['k']);
      recent.ended(['k']);
    }
    recent.started(['k']);
    recent.heard(['k']);
    expect(redone).toEqual([]);
    recent.ended(['k']);
    expect(redone).toEqual(['k']);
    recent.heard(['k']);
    expect(redone).toEqual(['k']);
    expect(recent.size).toBe(0);
  });

  test('a write heard within the window after it landed is redone at once; after it, not', () => {
    vi.useFakeTimers();
    const { recent, redone } = follow(1000);
    recent.started(['a', 'b']);
    recent.ended(['a', 'b']);
    vi.advanceTimersByTime(999);
    recent.heard(['a']);
    expect(redone).toEqual(['a']);
    vi.advanceTimersByTime(2);
    recent.heard(['b']);
    expect(redone).toEqual(['a']);
  });

  test('with two writes of a key under way, it waits for the last; other keys are left alone', () => {
    const { recent, redone } = follow();
    recent.started(['k']);
    recent.started(['k']);
    recent.heard(['k', 'other']);
    recent.ended(['k']);
    expect(redone).toEqual([]);
    recent.ended(['k']);
    expect(redone).toEqual(['k']);
    expect(recent.size).toBe(0);
  });

  test('landed writes are forgotten once their window has passed', () => {
    vi.useFakeTimers();
    const { recent } = follow(1000);
    recent.started(['a']);
    recent.ended(['a']);
    expect(recent.size).toBe(1);
    vi.advanceTimersByTime(1001);
    recent.started(['b']);
    recent.ended(['b']);
    expect(recent.size).toBe(1);
  });

  test('a key that lands again is followed for the window of its last landing', () => {
    vi.useFakeTimers();
    const { recent, redone } = follow(1000);
    recent.started(['a']);
    recent.ended(['a']);
    vi.advanceTimersByTime(600);
    recent.started(['a']);
    recent.ended(['a']);
    vi.advanceTimersByTime(500);
    recent.started(['b']);
    recent.ended(['b']);
    recent.heard(['a']);
    expect(redone).toEqual(['a']);
  });

  test('at most 10,000 landed writes are followed: the oldest are forgotten first', () => {
    const { recent, redone } = follow(60_000);
    const keys = Array.from({ length: 10_005 }, (_, i) => `k${i}`);
    for (const key of keys) {
      recent.started([key]);
      recent.ended([key]);
    }
    expect(recent.size).toBe(10_000);
    recent.heard(['k0', 'k4', 'k5', 'k10004']);
    expect(redone).toEqual(['k5', 'k10004']);
  });
});

describe('RecentWrites (as the two-map version it replaced)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function follow(window = 1000) {
    const redone: string[] = [];
    return { recent: new RecentWrites(window, (key) => redone.push(key)), redone };
  }

  test('a key landed once stays followed while another key lands again and again within the window', () => {
    const { recent, redone } = follow(60_000);
    recent.started(['a']);
    recent.ended(['a']);
    for (let i = 0; i < 20_000; i++) {
      recent.started(['b']);
      recent.ended(['b']);
    }
    expect(recent.size).toBe(2);
    recent.heard(['a']);
    expect(redone).toEqual(['a']);
  });

  test('beyond 10,000 landings the oldest is forgotten, not a key that landed again last (in the same millisecond)', () => {
    vi.useFakeTimers();
    const { recent, redone } = follow(60_000);
    recent.started(['a']);
    recent.ended(['a']);
    for (let i = 0; i < 9_999; i++) {
      recent.started([`k${i}`]);
      recent.ended([`k${i}`]);
    }
    // Lands again: the oldest landing is now k0's, which the 10,001st forgets.
    recent.started(['a']);
    recent.ended(['a']);
    recent.started(['k9999']);
    recent.ended(['k9999']);
    recent.heard(['a', 'k0']);
    expect(redone).toEqual(['a']);
  });
});
