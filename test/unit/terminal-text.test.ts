/**
 * Text from outside cannot drive the terminal through the CLI: escape
 * sequences and control characters are removed from human output, and JSON
 * output keeps the same values with every terminal control escaped.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { safeForTerminal, safeJson } from '../../cli/terminal';

// Anything a terminal acts on: ESC, C0 but tab/newline, DEL, C1, bidi controls.
// eslint-disable-next-line no-control-regex -- the test is about control characters
const DANGEROUS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const csi = fc.tuple(fc.constantFrom('\x1b[', '\x9b'), fc.stringMatching(/^[0-9;?]{0,8}$/), fc.constantFrom('m', 'J', 'K', 'H', 'A', 'h', 'l')).map(([intro, params, final]) => `${intro}${params}${final}`);
const osc = fc.tuple(fc.stringMatching(/^[0-9];[ -~]{0,20}$/), fc.constantFrom('\x07', '\x1b\\', '\x9c')).map(([body, end]) => `\x1b]${body}${end}`);
const escapeSequence = fc.oneof(csi, osc, fc.constantFrom('\x1bc', '\x1b7', '\x1b8', '\x1b(B', '\x1bP1$r\x1b\\'));
const controlChar = fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f).filter((c) => c !== 0x0a && c !== 0x09).map((c) => String.fromCharCode(c));
// Printable text without controls, the way a normal comment or name looks.
const plain = fc.string({ unit: fc.oneof(fc.constantFrom('\n', '\t', ' '), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 40 }).map((s) => s.replace(new RegExp(DANGEROUS.source, 'g'), ''));
const hostile = fc.array(fc.oneof(plain, escapeSequence, controlChar, fc.string({ unit: 'binary', maxLength: 10 })), { maxLength: 12 }).map((parts) => parts.join(''));

describe('safeForTerminal', () => {
  it('leaves nothing a terminal acts on, whatever the text holds', () => {
    fc.assert(fc.property(hostile, (text) => assert.doesNotMatch(safeForTerminal(text), DANGEROUS)));
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => assert.doesNotMatch(safeForTerminal(text), DANGEROUS)));
  });

  it('keeps ordinary text, newlines and tabs as they are', () => {
    fc.assert(fc.property(plain, (text) => assert.equal(safeForTerminal(text), text)));
  });

  it('removes an escape sequence whole, leaving the text around it intact', () => {
    fc.assert(fc.property(plain, escapeSequence, plain, (before, seq, after) => assert.equal(safeForTerminal(`${before}${seq}${after}`), `${before}${after}`)));
    assert.equal(safeForTerminal('approved\x1b[2J\x1b[H\x1b]0;pwned\x07 by \x1b[31mmallory\x1b[0m\r\n'), 'approved by mallory\n');
  });

  it('is idempotent', () => {
    fc.assert(fc.property(hostile, (text) => assert.equal(safeForTerminal(safeForTerminal(text)), safeForTerminal(text))));
  });
});

describe('safeJson', () => {
  it('parses back to the same value and carries no raw terminal control', () => {
    fc.assert(
      fc.property(fc.jsonValue(), hostile, (value, text) => {
        const doc = { value, comment: text };
        const out = safeJson(doc);
        assert.doesNotMatch(out.replace(/\n/g, ''), DANGEROUS);
        assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(doc)));
      }),
    );
  });
});
