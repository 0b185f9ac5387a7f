/**
 * Text from the controller (names, task messages) goes to a terminal: control characters become
 * `?` so that a stray escape sequence or newline cannot redraw the screen or break a table row.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}
