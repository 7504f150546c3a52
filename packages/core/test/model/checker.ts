import { globToRegExp } from '../../src/index.js';
import {
  describeOp,
  type History,
  KEYS,
  type Key,
  type LoaderRecord,
  type OpRecord,
  type Origin,
  type StoreWrite,
  type Tag,
  TTL,
} from './harness.js';

// One check per promise of CONSISTENCY.md, each over a whole history. A check returns the
// violations it found, each naming the operations involved; `explain` prints them with the
// history so a shrunk counterexample reads as a story.

export interface Violation {
  readonly promise: 'C1/C2' | 'C3' | 'C4' | 'C5';
  readonly message: string;
}

// ---------------------------------------------------------------------------------------------
// Mutations: what each completed or running operation did to which keys

interface Mutation {
  readonly op: OpRecord;
  /**
   * The moment from which the mutation counts: a value whose origin is older must not be read by
   * a caller who starts after the mutation completed. A call's start; for writeThrough, the end
   * of its persist (a load started before the database write may have read the old row).
   */
  readonly barrier: number;
  /** Whether it applies to `origin`'s value of `key`. */
  readonly covers: (key: Key, origin: Origin | LoaderLike) => boolean;
  /** Whether it may leave the key empty (a write replaces, a removal empties). */
  readonly removes: boolean;
  /**
   * A soft invalidation (mode 'expire'): an older value may still be served after it, but only
   * as a grace fallback (reported stale), never as a fresh value.
   */
  readonly soft?: boolean;
}

/** What a mutation needs to know of a value or a load: its tags. */
interface LoaderLike {
  readonly tags: Tag[];
}

const intersects = (a: readonly Tag[], b: readonly Tag[]) => a.some((t) => b.includes(t));

function keysOf(op: OpRecord): (key: Key) => boolean {
  const o = op.op;
  switch (o.kind) {
    case 'set':
    case 'delete':
    case 'writeThrough':
      return (k) => k === o.key;
    case 'setMany':
      return (k) => o.items.some((i) => i.key === k);
    case 'deleteMany':
      return (k) => o.keys.includes(k);
    case 'clear':
      return () => true;
    case 'deletePattern': {
      const re = globToRegExp(o.pattern);
      return (k) => re.test(k);
    }
    case 'relay': {
      const m = o.message;
      if (m.type === 'delete') return (k) => m.keys?.includes(k) ?? false;
      if (m.type === 'clear') return () => true;
      if (m.type === 'pattern' && m.pattern !== undefined) {
        const re = globToRegExp(m.pattern);
        return (k) => re.test(k);
      }
      return () => false;
    }
    default:
      return () => false;
  }
}

/**
 * The mutations of a history. `completedOnly` keeps those that resolved (a writeThrough whose
 * persist failed changed nothing); otherwise every call counts, running or not.
 */
function mutationsOf(h: History, completedOnly: boolean): Mutation[] {
  const out: Mutation[] = [];
  for (const op of h.ops) {
    const o = op.op;
    if (completedOnly && op.status !== 'ok') continue;
    switch (o.kind) {
      case 'set':
      case 'setMany':
      case 'delete':
      case 'deleteMany':
      case 'clear':
      case 'deletePattern':
      case 'relay': {
        const matches = keysOf(op);
        const removes = !(o.kind === 'set' || o.kind === 'setMany');
        const soft = o.kind === 'relay' ? o.message.mode === 'expire' : 'soft' in o && o.soft;
        out.push({ op, barrier: op.call, covers: (k) => matches(k), removes, soft });
        break;
      }
      case 'writeThrough':
        out.push({
          op,
          barrier: op.persisted ?? op.call,
          covers: (k) => k === o.key,
          removes: false,
        });
        break;
      case 'invalidateTags':
        out.push({
          op,
          barrier: op.call,
          covers: (_k, origin) => intersects(origin.tags, o.tags),
          removes: true,
          soft: o.soft,
        });
        break;
      default:
        break;
    }
  }
  return out;
}

const wroteIt = (m: Mutation, origin: Origin) =>
  origin.kind !== 'loader' && origin.source === m.op.id;

// ---------------------------------------------------------------------------------------------
// C1/C2: no stale read

/** What one read returned for one key: a token or nothing. */
interface Observation {
  readonly op: OpRecord;
  readonly key: Key;
  readonly token: string | undefined;
  /** The read saw nothing stored (a get's undefined, a getOrSet that had to load). */
  readonly sawMiss: boolean;
  /** The value was served as a grace fallback: a 'stale' event told the caller so. */
  readonly fallback?: boolean;
}

// Whether `token` was served to `op` as a stale value: a 'stale' event of it while op waited.
function servedStale(h: History, op: OpRecord, key: Key, token: string): boolean {
  const ret = op.ret ?? h.end;
  return h.staleEvents.some(
    (e) => e.key === key && e.entry.value === token && e.tick > op.call && e.tick < ret,
  );
}

function observations(h: History, loaderById: Map<number, LoaderRecord>): Observation[] {
  const out: Observation[] = [];
  for (const op of h.ops) {
    const o = op.op;
    if (op.status === 'pending' || op.ret === undefined) continue;
    if (o.kind === 'get' && op.status === 'ok') {
      const token = op.result as string | undefined;
      out.push({ op, key: o.key, token, sawMiss: token === undefined });
    } else if (o.kind === 'getMany' && op.status === 'ok') {
      const tokens = op.result as (string | undefined)[];
      o.keys.forEach((key, i) => {
        const token = tokens[i];
        out.push({ op, key, token, sawMiss: token === undefined });
      });
    } else if (o.kind === 'getOrSet') {
      if (op.status === 'error') {
        out.push({ op, key: o.key, token: undefined, sawMiss: true });
        continue;
      }
      const token = op.result as string;
      const origin = h.origins.get(token);
      const loader = origin?.kind === 'loader' ? loaderById.get(origin.source) : undefined;
      // A value from a load that started after this call means this call found nothing fresh,
      // unless it was forced to load.
      const sawMiss = !o.force && loader !== undefined && loader.start > op.call;
      out.push({ op, key: o.key, token, sawMiss, fallback: servedStale(h, op, o.key, token) });
    } else if (o.kind === 'getOrSetMany' && op.status === 'ok') {
      const results = op.result as PromiseSettledResult<string>[];
      o.keys.forEach((key, i) => {
        const r = results[i]!;
        if (r.status === 'rejected') {
          out.push({ op, key, token: undefined, sawMiss: true });
          return;
        }
        const origin = h.origins.get(r.value);
        const loader = origin?.kind === 'loader' ? loaderById.get(origin.source) : undefined;
        out.push({
          op,
          key,
          token: r.value,
          sawMiss: loader !== undefined && loader.start > op.call,
          fallback: servedStale(h, op, key, r.value),
        });
      });
    }
  }
  return out;
}

/**
 * C1 and C2. A read that started after a mutation M of its key completed never returns a value
 * whose origin started before M's barrier, unless M was a soft invalidation and the value was
 * served as a grace fallback (reported stale); a read that started after a write resolved finds
 * a value unless something that may remove it (a removal, a tag invalidation, expiry) ran since
 * the write started. The final contents of the store obey the first rule for a read at the end
 * (an entry a soft invalidation left is a fallback only).
 */
export function checkNoStaleRead(h: History): Violation[] {
  const violations: Violation[] = [];
  const loaderById = new Map(h.loaders.map((l) => [l.id, l]));
  const completed = mutationsOf(h, true);
  const staleRule = (
    key: Key,
    token: string,
    readStart: number,
    what: string,
    tags = true,
    fallback = false,
  ) => {
    const origin = h.origins.get(token);
    if (origin === undefined) {
      violations.push({
        promise: 'C1/C2',
        message: `${what} returned ${token}, which no operation wrote`,
      });
      return;
    }
    if (origin.key !== key) {
      violations.push({
        promise: 'C1/C2',
        message: `${what} returned ${token}, a value of ${origin.key}, for ${key}`,
      });
      return;
    }
    for (const m of completed) {
      if (m.op.ret === undefined || m.op.ret >= readStart) continue;
      if (!tags && m.op.op.kind === 'invalidateTags') continue;
      if (fallback && m.soft) continue;
      if (wroteIt(m, origin) || !m.covers(key, origin)) continue;
      if (origin.start < m.barrier) {
        violations.push({
          promise: 'C1/C2',
          message:
            `${what} returned ${token} (from ${originName(h, origin)}, t${origin.start}), ` +
            `older than #${m.op.id} ${describeOp(m.op.op)} (t${m.barrier}, done t${m.op.ret})`,
        });
        return;
      }
    }
  };

  for (const obs of observations(h, loaderById)) {
    const what = `#${obs.op.id} ${describeOp(obs.op.op)} [t${obs.op.call}..t${obs.op.ret}] for ${obs.key}`;
    if (obs.token !== undefined) {
      staleRule(obs.key, obs.token, obs.op.call, what, true, obs.fallback);
    }
    if (obs.sawMiss) missRule(h, completed, obs, what, violations);
  }

  for (const [key, entry] of h.final) {
    if (!(KEYS as readonly string[]).includes(key)) continue;
    if ((entry.staleUntil ?? entry.expiresAt) <= h.endWall) continue;
    // Tag invalidations are applied when an entry is read (tag records), not to the stored entry.
    staleRule(
      key as Key,
      entry.value as string,
      h.end,
      `the store at the end holds, at ${key},`,
      false,
      entry.expiresAt === 0,
    );
  }
  return violations;
}

function missRule(
  h: History,
  completed: Mutation[],
  obs: Observation,
  what: string,
  violations: Violation[],
): void {
  const readRet = obs.op.ret ?? h.end;
  const readRetWall = obs.op.retWall ?? h.endWall;
  const tagsOfKey = new Set<Tag>();
  for (const origin of h.origins.values()) {
    if (origin.key === obs.key) for (const t of origin.tags) tagsOfKey.add(t);
  }
  for (const w of completed) {
    if (w.removes || w.op.ret === undefined || w.op.ret >= obs.op.call) continue;
    if (!w.covers(obs.key, { tags: [] })) continue;
    // The write's entry expires TTL after the write started, at the earliest.
    if (readRetWall >= w.op.callWall + TTL) continue;
    // Removed by a removal or tag invalidation that did not end before the write began, or
    // replaced meanwhile by another write whose entry may have expired by the end of the read.
    const removed = mutationsOf(h, false).some(
      (r) =>
        (r.op.ret ?? h.end) > w.op.call &&
        r.op.call < readRet &&
        (r.op.op.kind === 'invalidateTags'
          ? intersects([...tagsOfKey], r.op.op.tags)
          : r.covers(obs.key, { tags: [] }) &&
            (r.removes || (r.op !== w.op && readRetWall >= r.op.callWall + TTL))),
    );
    if (!removed) {
      violations.push({
        promise: 'C1/C2',
        message: `${what} found nothing, though #${w.op.id} ${describeOp(w.op.op)} resolved at t${w.op.ret} and nothing removed it`,
      });
      return;
    }
  }
}

function originName(h: History, origin: Origin): string {
  if (origin.kind === 'loader') {
    const l = h.loaders.find((x) => x.id === origin.source);
    return `loader#${origin.source} of #${l?.opId}`;
  }
  return `#${origin.source} ${origin.kind}`;
}

// ---------------------------------------------------------------------------------------------
// C3: single flight

/**
 * C3. Two loader calls of one key overlap only if a mutation covering the key (or any tag
 * invalidation) ran after the first load's call started and before the second load started: the
 * first was voided.
 * A load ends when it settles or when its signal is aborted (hard timeout).
 */
export function checkSingleFlight(h: History): Violation[] {
  const violations: Violation[] = [];
  const all = mutationsOf(h, false);
  const endOf = (l: LoaderRecord) => Math.min(l.end ?? h.end, l.aborted ?? h.end);
  for (const a of h.loaders) {
    for (const b of h.loaders) {
      if (a === b || a.key !== b.key || !(a.start < b.start && b.start < endOf(a))) continue;
      // From the call that started the first load: a load begun on a read older than a mutation
      // may be voided from birth.
      const since = h.ops[a.opId]?.call ?? a.start;
      // A tag invalidation may void any load: its loader may still call setTags.
      const voided = all.some(
        (m) =>
          (m.op.ret ?? h.end) > since &&
          m.op.call < b.start &&
          (m.op.op.kind === 'invalidateTags' || m.covers(a.key, { tags: a.tags })),
      );
      if (!voided) {
        violations.push({
          promise: 'C3',
          message:
            `loader#${b.id} of #${b.opId} started at t${b.start} while loader#${a.id} of #${a.opId} ` +
            `(t${a.start}..t${endOf(a)}) ran for ${a.key}, and nothing voided it`,
        });
      }
    }
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// C4: bounded waiting

/**
 * C4. Every call settles once the scheduler has run everything; a getOrSet never rejects with a
 * timeout of a load that timed out before it was called (its own wait must have elapsed); with a
 * hard timeout, no getOrSet waits longer than it.
 */
export function checkBoundedWaiting(h: History): Violation[] {
  const violations: Violation[] = [];
  for (const op of h.ops) {
    if (op.status === 'pending') {
      violations.push({
        promise: 'C4',
        message: `#${op.id} ${describeOp(op.op)} called at t${op.call} never settled`,
      });
      continue;
    }
    if (op.op.kind !== 'getOrSet') continue;
    if (op.errorName === 'LoaderTimeoutError' && op.retWall === op.callWall) {
      violations.push({
        promise: 'C4',
        message: `#${op.id} ${describeOp(op.op)} rejected at once (t${op.call}..t${op.ret}, no time passed) with ${op.error}: the key is wedged by an earlier load`,
      });
    }
    // The hard timeout bounds the wait for a load (the store read before it has deadlines of its
    // own, not modelled here): measured from the latest load of the key that ran during the call.
    const { hard } = h.config;
    if (hard !== undefined && op.retWall !== undefined && op.ret !== undefined) {
      const o = op.op;
      const call = op.call;
      const ret = op.ret;
      const during = h.loaders.filter(
        (l) =>
          l.key === o.key && l.start < ret && Math.min(l.end ?? h.end, l.aborted ?? h.end) > call,
      );
      if (during.length === 0) continue;
      const from = Math.max(op.callWall, ...during.map((l) => l.startWall));
      // A timer fires inside the advance that passes its time, and the call settles right after:
      // it settled no later than the start of the last advance before it, if that one moved the
      // clock to where the call settled.
      let settled = op.retWall;
      for (const a of h.ops) {
        if (a.op.kind === 'advance' && a.ret !== undefined && a.ret < ret) {
          if (a.retWall === op.retWall) settled = Math.min(settled, a.callWall);
        }
      }
      if (settled - from > hard) {
        violations.push({
          promise: 'C4',
          message: `#${op.id} ${describeOp(o)} still waited ${settled - from} ms after its load started, past the hard timeout of ${hard} ms`,
        });
      }
    }
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// C5: honest staleness

/**
 * C5. A value is stale once the TTL of the entry it was first stored with has passed. A stale
 * value is served only within that entry's grace, and each caller it is served to sees a 'stale'
 * event for it (key and value) while it waits. A stale event itself must be within grace.
 */
export function checkHonestStaleness(h: History): Violation[] {
  const violations: Violation[] = [];
  const first = new Map<string, StoreWrite>();
  for (const w of h.storeWrites) {
    const token = w.entry.value as string;
    if (!first.has(token)) first.set(token, w);
  }
  const graceEnd = (w: StoreWrite) => w.entry.staleUntil ?? w.entry.expiresAt;

  for (const e of h.staleEvents) {
    const orig = first.get(e.entry.value as string);
    if (orig === undefined) continue;
    if (e.wall >= graceEnd(orig)) {
      violations.push({
        promise: 'C5',
        message:
          `a '${e.reason}' stale event at t${e.tick} served ${String(e.entry.value)} of ${e.key} ` +
          `${e.wall - graceEnd(orig)} ms after its grace ended` +
          (orig.entry.staleUntil === undefined ? ' (stored without grace)' : ''),
      });
    }
  }

  for (const op of h.ops) {
    if (op.status !== 'ok' || op.ret === undefined) continue;
    const o = op.op;
    const served: [Key, string | undefined][] =
      o.kind === 'get' || o.kind === 'getOrSet'
        ? [[o.key, op.result as string | undefined]]
        : o.kind === 'getMany'
          ? o.keys.map((k, i) => [k, (op.result as (string | undefined)[])[i]])
          : o.kind === 'getOrSetMany'
            ? o.keys.map((k, i) => {
                const r = (op.result as PromiseSettledResult<string>[])[i]!;
                return [k, r.status === 'fulfilled' ? r.value : undefined];
              })
            : [];
    for (const [key, token] of served) {
      if (token === undefined) continue;
      const orig = first.get(token);
      // Never stored, or stored after this call started: a fresh load handed to its callers.
      if (orig === undefined || orig.tick > op.call) continue;
      const what = `#${op.id} ${describeOp(o)} [t${op.call}..t${op.ret}]`;
      if (op.callWall >= graceEnd(orig)) {
        violations.push({
          promise: 'C5',
          message: `${what} served ${token} of ${key} ${op.callWall - graceEnd(orig)} ms after its grace ended${orig.entry.staleUntil === undefined ? ' (stored without grace)' : ''}`,
        });
        continue;
      }
      if (op.callWall < orig.entry.expiresAt) continue;
      const reported = h.staleEvents.some(
        (e) =>
          e.key === key && e.entry.value === token && e.tick > op.call && e.tick < (op.ret ?? 0),
      );
      if (!reported) {
        violations.push({
          promise: 'C5',
          message: `${what} served ${token} of ${key}, ${op.callWall - orig.entry.expiresAt} ms past its TTL, without a 'stale' event`,
        });
      }
    }
  }
  return violations;
}

// ---------------------------------------------------------------------------------------------
// Printing

/** The history as lines in tick order, for a counterexample. */
export function formatHistory(h: History): string {
  const lines: [number, string][] = [];
  for (const op of h.ops) {
    lines.push([
      op.call,
      `#${op.id} call ${describeOp(op.op)} @${op.callWall - h.ops[0]!.callWall}ms`,
    ]);
    if (op.persisted !== undefined) lines.push([op.persisted, `#${op.id} persist resolved`]);
    if (op.ret !== undefined && op.op.kind !== 'advance' && op.op.kind !== 'relay') {
      const out = op.status === 'ok' ? JSON.stringify(op.result) : `rejects ${op.error}`;
      lines.push([op.ret, `#${op.id} ret ${out}`]);
    }
  }
  for (const l of h.loaders) {
    lines.push([l.start, `  loader#${l.id} of #${l.opId} starts (${l.outcome})`]);
    if (l.aborted !== undefined) lines.push([l.aborted, `  loader#${l.id} aborted`]);
    if (l.end !== undefined) {
      lines.push([
        l.end,
        `  loader#${l.id} ${l.token === undefined ? 'throws' : `returns ${l.token}`}`,
      ]);
    }
  }
  const base = h.ops[0]?.callWall ?? 0;
  for (const w of h.storeWrites) {
    const e = w.entry;
    lines.push([
      w.tick,
      `    store.set(${w.key}, ${String(e.value)}) expires @${e.expiresAt - base}ms` +
        (e.staleUntil === undefined ? '' : ` grace to @${e.staleUntil - base}ms`) +
        (e.tags === undefined ? '' : ` tags=${e.tags.join('+')}`),
    ]);
  }
  for (const e of h.staleEvents) {
    lines.push([e.tick, `    'stale' ${e.reason} ${e.key}=${String(e.entry.value)}`]);
  }
  const final = [...h.final]
    .filter(([k]) => (KEYS as readonly string[]).includes(k))
    .map(([k, e]) => `${k}=${String(e.value)}`)
    .join(' ');
  return [
    `config: grace=${h.config.grace} hard=${h.config.hard} refresh=${h.config.refresh} syncReads=${h.config.syncReads}`,
    ...lines.sort((a, b) => a[0] - b[0]).map(([t, s]) => `t${t} ${s}`),
    `final store: ${final || '(empty)'}`,
  ].join('\n');
}

/** Throws an error listing the violations and the history, if there are any. */
export function expectNone(violations: Violation[], h: History): void {
  if (h.problems.length > 0) throw new Error(`the run itself failed: ${h.problems.join('; ')}`);
  if (violations.length === 0) return;
  const listed = violations.map((v) => `[${v.promise}] ${v.message}`).join('\n');
  throw new Error(`${listed}\n--- history ---\n${formatHistory(h)}`);
}
