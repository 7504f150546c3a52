import { InvalidArgumentError } from './errors.js';

/** Escapes the glob characters `* ? [ ] \` so that `text` matches only itself in a pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * Compiles a Redis-style glob (`*` any run, `?` one character, `[abc]`/`[a-z]`/`[^a]` a set,
 * `\` escapes) into an anchored RegExp, so in-process stores match keys as Redis `SCAN MATCH`
 * does. Throws {@link InvalidArgumentError} naming `pattern` for an empty or unterminated one.
 *
 * @example globToRegExp('*:123:*').test('user:123:profile') // true
 */
export function globToRegExp(pattern: string): RegExp {
  if (typeof pattern !== 'string' || pattern === '') {
    throw new InvalidArgumentError('pattern', 'expected a non-empty glob such as "user:123:*"');
  }
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (char === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1)
        throw new InvalidArgumentError('pattern', `unterminated "[" in ${JSON.stringify(pattern)}`);
      let set = pattern.slice(i + 1, end);
      const negate = set.startsWith('^');
      if (negate) set = set.slice(1);
      source += `[${negate ? '^' : ''}${set.replace(/[\\\]]/g, '\\$&')}]`;
      i = end;
    } else source += escapeRegExp(char);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
