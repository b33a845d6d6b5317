/**
 * registry/db.ts redaction: a MongoDB URI's password never reaches a message
 * or a log, whatever characters the user name and password hold.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { redactSecrets, redactUri } from '../../registry/db';

const hosts = fc.constantFrom('127.0.0.1:27017', 'db0.example.net:27017,db1.example.net:27018', 'cluster0.abcde.mongodb.net');
const schemes = fc.constantFrom('mongodb', 'mongodb+srv');
const queries = fc.constantFrom('', '?tls=true&authSource=admin', '?replicaSet=rs0&appName=a@b', '?authMechanism=SCRAM-SHA-256');

describe('redactUri and redactSecrets', () => {
  it('replaces exactly the password of any percent-encoded user:password, keeping the rest of the URI', () => {
    fc.assert(
      fc.property(schemes, fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), hosts, queries, (scheme, user, password, host, query) => {
        const prefix = `${scheme}://${encodeURIComponent(user)}`;
        const rest = `@${host}/slipway${query}`;
        assert.equal(redactUri(`${prefix}:${encodeURIComponent(password)}${rest}`), `${prefix}:***${rest}`);
      }),
    );
  });

  it('removes the password, encoded and decoded, from any text that quotes it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), fc.string(), fc.string(), (password, before, after) => {
        const uri = `mongodb://app:${encodeURIComponent(password)}@127.0.0.1:27017/slipway`;
        const text = `${before}${password}${after} ${before}${encodeURIComponent(password)}${after}`;
        const out = redactSecrets(text, uri);
        assert.ok(!out.includes(password) || (before + after).includes(password), out);
        assert.ok(!out.includes(encodeURIComponent(password)) || (before + after).includes(encodeURIComponent(password)), out);
      }),
    );
  });

  it('leaves URIs without a password as they are', () => {
    for (const uri of ['mongodb://127.0.0.1:27017/slipway', 'mongodb://x509user@db.example:27017/slipway?authMechanism=MONGODB-X509', 'mongodb://mongo:27017/slipway?replicaSet=rs0&appName=a@b']) {
      assert.equal(redactUri(uri), uri);
      assert.equal(redactSecrets(`failed on ${uri}`, uri), `failed on ${uri}`);
    }
  });
});
