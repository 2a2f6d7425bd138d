/** Checks on free text that both services share. */

// C0 controls and DEL: a NUL, a line break or an escape sequence in a name breaks every
// listing, export and terminal that shows it.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What both services answer when a field holds a control character. */
export const CONTROL_CHARACTERS_REFUSED = 'must not contain control characters (line breaks, tabs, NUL)';

/** Whether `text` holds a control character (C0 or DEL). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}
