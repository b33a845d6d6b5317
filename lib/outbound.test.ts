import assert from 'node:assert/strict';
import type dns from 'node:dns';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startLocalServer, type LocalServer } from '../test/support/local-http';
import { readCapped } from './http';
import { OutboundRefusedError, SAFE_OUTBOUND, checkOutboundUrl, isForbiddenAddress, outboundFetch, outboundPolicyFromSettings, sameOrigin, type Resolve } from './outbound';

const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OutboundRefusedError, String(err));
  assert.match(err.message, pattern);
  return true;
};

const octet = fc.integer({ min: 0, max: 255 });

describe('outbound URL check', () => {
  it('refuses every link-local IPv4 address, however the URL spells it (dotted, decimal, hex, IPv4-mapped IPv6)', () => {
    fc.assert(
      fc.property(octet, octet, fc.constantFrom('https', 'http'), fc.nat(4), (c, d, scheme, form) => {
        const n = (169 << 24) + (254 << 16) + (c << 8) + d;
        const host = [`169.254.${c}.${d}`, String(n >>> 0), `0x${(n >>> 0).toString(16)}`, `[::ffff:169.254.${c}.${d}]`, `[0:0:0:0:0:ffff:a9fe:${((c << 8) + d).toString(16)}]`][form];
        assert.throws(() => checkOutboundUrl(`${scheme}://${host}/hook`, { allowHttp: true, allowLinkLocal: false }, 'url'), refused(/^url: .* link-local or cloud metadata address.*SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL=true/));
      }),
    );
  });

  it('refuses fe80::/10, the AWS IPv6 and Alibaba metadata addresses and metadata host names, and allows them only when configured', () => {
    const hosts = ['[fe80::1]', '[febf:ffff::1]', '[fd00:ec2::254]', '100.100.100.200', 'metadata.google.internal', 'METADATA.GOOGLE.INTERNAL.', '169.254.169.254'];
    for (const host of hosts) {
      assert.throws(() => checkOutboundUrl(`https://${host}/x`, SAFE_OUTBOUND, 'baseUrl'), refused(/^baseUrl: /), host);
      assert.equal(checkOutboundUrl(`https://${host}/x`, { allowHttp: false, allowLinkLocal: true }, 'baseUrl').protocol, 'https:', host);
    }
    for (const ok of ['[fec0::1]', '[fd00:ec2::253]', '100.100.100.201', '169.253.255.255', '169.255.0.0']) assert.doesNotThrow(() => checkOutboundUrl(`https://${ok}/x`, SAFE_OUTBOUND, 'url'), ok);
  });

  it('requires https outside loopback unless SLIPWAY_OUTBOUND_ALLOW_HTTP is set, and refuses credentials and other schemes', () => {
    assert.throws(() => checkOutboundUrl('http://gates.example.com/check', SAFE_OUTBOUND, 'url'), refused(/^url: http:\/\/gates\.example\.com is plain http .* SLIPWAY_OUTBOUND_ALLOW_HTTP=true/));
    for (const loopback of ['http://127.0.0.1:8080/x', 'http://127.9.9.9/x', 'http://[::1]:9/x', 'http://localhost:3000/x', 'http://api.localhost/x']) {
      assert.doesNotThrow(() => checkOutboundUrl(loopback, SAFE_OUTBOUND, 'url'), loopback);
    }
    assert.doesNotThrow(() => checkOutboundUrl('http://gates.internal/check', outboundPolicyFromSettings({ SLIPWAY_OUTBOUND_ALLOW_HTTP: 'true' }), 'url'));
    assert.throws(() => checkOutboundUrl('https://user:pw@gates.example.com/', SAFE_OUTBOUND, 'url'), refused(/carries credentials/));
    assert.throws(() => checkOutboundUrl('file:///etc/passwd', SAFE_OUTBOUND, 'url'), refused(/file: URLs are not called/));
    assert.throws(() => outboundPolicyFromSettings({ SLIPWAY_OUTBOUND_ALLOW_HTTP: 'yes' }), /SLIPWAY_OUTBOUND_ALLOW_HTTP must be true or false/);
  });

  it('compares origins by scheme, host and port', () => {
    assert.equal(sameOrigin('https://a.example.com/status/1', 'https://a.example.com/deploy'), true);
    assert.equal(sameOrigin('https://a.example.com:8443/s', 'https://a.example.com/deploy'), false);
    assert.equal(sameOrigin('http://a.example.com/s', 'https://a.example.com/deploy'), false);
    assert.equal(sameOrigin('https://a.example.com.evil.net/s', 'https://a.example.com/deploy'), false);
    assert.equal(sameOrigin('not a url', 'https://a.example.com/deploy'), false);
  });

  it('tells forbidden addresses from their neighbours', () => {
    fc.assert(
      fc.property(octet, octet, octet, octet, (a, b, c, d) => {
        const ip = `${a}.${b}.${c}.${d}`;
        const expected = (a === 169 && b === 254) || ip === '100.100.100.200';
        assert.equal(isForbiddenAddress(ip), expected, ip);
        assert.equal(isForbiddenAddress(`::ffff:${ip}`), expected, `::ffff:${ip}`);
      }),
    );
  });
});

describe('outbound fetch', () => {
  let server: LocalServer;
  before(async () => {
    server = await startLocalServer((req) => {
      if (req.path === '/redirect') return { status: 302, body: {}, headers: { location: 'http://169.254.169.254/latest/meta-data/' } };
      if (req.path === '/big') return { status: 200, body: { blob: 'x'.repeat(100_000) } };
      return { status: 200, body: { ok: true } };
    });
  });
  after(() => server.close());

  it('answers a redirect as it is, without following it', async () => {
    const response = await outboundFetch(`${server.url}/redirect`, { method: 'GET', headers: {}, field: 'url' }, SAFE_OUTBOUND);
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), 'http://169.254.169.254/latest/meta-data/');
    assert.equal(server.requests.filter((r) => r.path === '/redirect').length, 1);
  });

  it('copies no more of an answer than the caller reads', async () => {
    const response = await outboundFetch(`${server.url}/big`, { method: 'GET', headers: {}, field: 'url' }, SAFE_OUTBOUND);
    assert.equal((await readCapped(response, 1024)).length, 1024);
  });

  it('checks the address a name resolves to when it connects, so a name rebound to a metadata address is refused', async () => {
    const port = new URL(server.url).port;
    let answers = 0;
    // The first answer is harmless; every later one is the metadata service.
    const rebinding: Resolve = (_host, _options, callback) => {
      answers++;
      const address: dns.LookupAddress = answers === 1 ? { address: '127.0.0.1', family: 4 } : { address: '169.254.169.254', family: 4 };
      callback(null, [address]);
    };
    const policy = { allowHttp: true, allowLinkLocal: false };
    const url = `http://rebind.test:${port}/ok`;
    assert.doesNotThrow(() => checkOutboundUrl(url, policy, 'url'), 'the name itself passes the URL check');
    const first = await outboundFetch(url, { method: 'GET', headers: {}, field: 'url', resolve: rebinding }, policy);
    assert.equal(first.status, 200);
    const before = server.requests.length;
    await assert.rejects(outboundFetch(url, { method: 'GET', headers: {}, field: 'url', resolve: rebinding }, policy), refused(/^url: rebind\.test resolves to 169\.254\.169\.254, a link-local or cloud metadata address/));
    assert.equal(server.requests.length, before, 'nothing reached any server');
  });

  it('refuses plain http to a name that resolves outside loopback', async () => {
    const port = new URL(server.url).port;
    const outside: Resolve = (_host, _options, callback) => callback(null, [{ address: '10.0.0.8', family: 4 }]);
    await assert.rejects(outboundFetch(`http://localhost:${port}/ok`, { method: 'GET', headers: {}, field: 'url', resolve: outside }, SAFE_OUTBOUND), refused(/resolves to 10\.0\.0\.8, not a loopback address/));
  });

  it('reports a refused connection as fetch does, with its cause', async () => {
    await assert.rejects(outboundFetch('http://127.0.0.1:9/x', { method: 'GET', headers: {}, field: 'url' }, SAFE_OUTBOUND), (err: unknown) => {
      assert.ok(err instanceof Error && err.message === 'fetch failed' && err.cause instanceof Error, String(err));
      return true;
    });
  });
});
