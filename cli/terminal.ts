/**
 * What the CLI prints that came from outside (rejection comments, gate and
 * webhook messages, user names, anything the API or the registry returned)
 * could carry terminal control sequences: a comment that clears the screen,
 * rewrites an earlier line, retitles the window or hides text. Everything
 * the CLI writes goes through here first.
 */

// Whole escape sequences first, so no "[31m" is left behind: CSI (ESC [ or the C1 CSI), OSC/DCS/APC/PM/SOS strings up to their terminator, then any other ESC sequence (intermediate bytes and a final one).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ESCAPE_SEQUENCES = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]P_^X]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -/]*[0-~]?/g;
// C0 except tab and newline, DEL, C1; and the bidirectional overrides and isolates, which reorder what is shown.
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_CHARACTERS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/** safeForTerminal removes terminal escape sequences and control characters (newline and tab kept) from text about to be printed. */
export function safeForTerminal(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replace(CONTROL_CHARACTERS, '');
}

/** safeJson is JSON.stringify (indented) with the control characters JSON leaves raw (DEL, C1, bidi controls) written as \u escapes: the same document, inert on a terminal. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** printOut writes one line of text to stdout, made safe for a terminal. */
export function printOut(text: string): void {
  process.stdout.write(`${safeForTerminal(text)}\n`);
}

/** printErr writes one line of text to stderr, made safe for a terminal. */
export function printErr(text: string): void {
  process.stderr.write(`${safeForTerminal(text)}\n`);
}

/** printJson writes one JSON document to stdout (safeJson). */
export function printJson(value: unknown): void {
  process.stdout.write(`${safeJson(value)}\n`);
}
