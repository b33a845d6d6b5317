import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bearerTokenMatches, constantTimeEqual } from './constant-time';

describe('constantTimeEqual', () => {
  it('agrees with plain equality for any two strings, whatever their lengths', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => constantTimeEqual(a, b) === (a === b)));
    fc.assert(fc.property(fc.string(), (a) => constantTimeEqual(a, a)));
  });

  it('agrees with byte equality for any two byte arrays', () => {
    fc.assert(fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => constantTimeEqual(a, b) === Buffer.from(a).equals(Buffer.from(b))));
  });
});

describe('bearerTokenMatches', () => {
  it('accepts exactly "Bearer <token>" and refuses any other header', () => {
    const token = 'metrics-token-0123456789';
    assert.equal(bearerTokenMatches(`Bearer ${token}`, token), true);
    assert.equal(bearerTokenMatches(`bearer ${token}`, token), true);
    assert.equal(bearerTokenMatches(undefined, token), false);
    assert.equal(bearerTokenMatches('', token), false);
    assert.equal(bearerTokenMatches(token, token), false);
    assert.equal(bearerTokenMatches(`Basic ${token}`, token), false);
    fc.assert(fc.property(fc.string(), (header) => bearerTokenMatches(header, token) === (/^Bearer\s+(\S+)$/i.exec(header)?.[1] === token)));
  });
});
