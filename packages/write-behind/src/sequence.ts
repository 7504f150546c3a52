// Sequences are fixed-width strings of digits, so that `<` on strings, and `numeric` in SQL,
// order them the way the queue does.
const MS_DIGITS = 15;
const SEQ_DIGITS = 10;
const INDEX_DIGITS = 3;
const WIDTH = MS_DIGITS + SEQ_DIGITS + INDEX_DIGITS;

/** The sequence of write `index` of the stream entry `id` (`'1718000000000-5'`). */
export function streamSequence(id: string, index: number): string {
  const dash = id.indexOf('-');
  return (
    id.slice(0, dash).padStart(MS_DIGITS, '0') +
    id.slice(dash + 1).padStart(SEQ_DIGITS, '0') +
    String(index).padStart(INDEX_DIGITS, '0')
  );
}

/** The sequence of the `n`th write of a counter. */
export function counterSequence(n: number): string {
  return String(n).padStart(WIDTH, '0');
}
