import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { signWebhookBody, signWebhookRequest, verifyWebhookRequest, type SignedRequest } from './request-signing';

const SECRET = 'unit-signing-secret-0123456789';
const NOW = new Date('2026-03-01T12:00:00Z');

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
  url: fc.webUrl({ withQueryParameters: true }),
  body: fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 })),
});

describe('v2 request signatures', () => {
  it('verifies any request as signed, by v2', () => {
    fc.assert(
      fc.property(request, (req) => {
        const check = verifyWebhookRequest(SECRET, signWebhookRequest(SECRET, req, NOW), req, { now: NOW });
        assert.deepEqual(check, { valid: true, timestamp: Math.floor(NOW.getTime() / 1000), version: 'v2' });
      }),
    );
  });

  it('refuses the signature of one request for another method, URL or body', () => {
    fc.assert(
      fc.property(request, request, (signed, sent) => {
        const same = signed.method === sent.method && new URL(signed.url).href === new URL(sent.url).href && Buffer.from(signed.body).equals(Buffer.from(sent.body));
        fc.pre(!same);
        const check = verifyWebhookRequest(SECRET, signWebhookRequest(SECRET, signed, NOW), sent, { now: NOW });
        assert.equal(check.valid, false);
      }),
    );
  });

  it('binds the path: a deploy signature does not pass for the undo route of the same endpoint', () => {
    const deploy: SignedRequest = { method: 'POST', url: 'https://deploy.example.com/hook', body: '{"action":"deploy"}' };
    const header = signWebhookRequest(SECRET, deploy, NOW);
    const moved = verifyWebhookRequest(SECRET, header, { ...deploy, url: 'https://deploy.example.com/hook/undo' }, { now: NOW });
    assert.deepEqual(moved, { valid: false, reason: 'v2 signature does not match: wrong secret, or the method, URL or body differ from what was signed (is the URL the one the sender used?)' });
    assert.equal(verifyWebhookRequest(SECRET, header, { ...deploy, method: 'PUT' }, { now: NOW }).valid, false);
  });

  it('refuses a v1-only header (a stripped v2) unless v1 is accepted for a transition', () => {
    const req: SignedRequest = { method: 'POST', url: 'https://deploy.example.com/hook', body: '{}' };
    const full = signWebhookRequest(SECRET, req, NOW);
    const stripped = full.replace(/,v2=[0-9a-f]{64}/, '');
    assert.match(full, /^t=\d+,v1=[0-9a-f]{64},v2=[0-9a-f]{64}$/);
    assert.deepEqual(verifyWebhookRequest(SECRET, stripped, req, { now: NOW }), { valid: false, reason: 'malformed x-slipway-signature header: no v2=<64 hex characters> (a v1-only signature is not accepted here)' });
    assert.equal(verifyWebhookRequest(SECRET, signWebhookBody(SECRET, '{}', NOW), req, { now: NOW, acceptV1: true }).valid, true);
    assert.equal(verifyWebhookRequest(SECRET, signWebhookBody(SECRET, '{"x":1}', NOW), req, { now: NOW, acceptV1: true }).valid, false);
  });

  it('accepts a rotated secret, and refuses a replay outside the window', () => {
    const req: SignedRequest = { method: 'GET', url: 'https://deploy.example.com/status/1', body: '' };
    const header = signWebhookRequest(SECRET, req, NOW);
    assert.equal(verifyWebhookRequest(['next-secret-000000000000', SECRET], header, req, { now: NOW }).valid, true);
    const late = verifyWebhookRequest(SECRET, header, req, { now: new Date(NOW.getTime() + 301_000) });
    assert.equal(late.valid, false);
    assert.match(late.valid ? '' : late.reason, /301 s old, outside the 300 s window/);
    assert.equal(verifyWebhookRequest('another-secret-0000000000', header, req, { now: NOW }).valid, false);
  });

  it('answers malformed headers with a reason, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constant(undefined), fc.array(fc.string())), (header) => {
        const check = verifyWebhookRequest(SECRET, header, { method: 'POST', url: 'https://x.example.com/', body: '' }, { now: NOW });
        assert.equal(check.valid, false);
      }),
    );
  });
});
