/** Escapes the glob characters of Redis `MATCH` patterns (`* ? [ ] \`) so `text` matches itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
