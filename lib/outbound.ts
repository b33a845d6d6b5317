/**
 * Outbound HTTP for what pipelines and the worker's settings name (webhook
 * gates, the webhook target, prompt suites): https unless the host is
 * loopback, no credentials in the URL, never a redirect followed, and no
 * link-local or cloud-metadata address. The address is checked where the
 * socket connects (a lookup hook), so a name that resolves to a safe address
 * when checked and a metadata address when used (DNS rebinding) is refused.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { readPluginSettings, type PluginSettings } from './plugins';

/** OutboundPolicy says which calls the worker may make. */
export interface OutboundPolicy {
  /** SLIPWAY_OUTBOUND_ALLOW_HTTP: plain http to hosts other than loopback (only inside a trusted network). */
  allowHttp: boolean;
  /** SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL: link-local and metadata addresses (only where no instance metadata service is reachable). */
  allowLinkLocal: boolean;
}

/** SAFE_OUTBOUND is the default: https outside loopback, no link-local or metadata address. */
export const SAFE_OUTBOUND: OutboundPolicy = Object.freeze({ allowHttp: false, allowLinkLocal: false });

const flag = (name: string) =>
  z.enum(['true', 'false'], { error: `must be true or false (${name})` }).optional().transform((v) => v === 'true');

const outboundSettingsSchema = z.object({
  SLIPWAY_OUTBOUND_ALLOW_HTTP: flag('SLIPWAY_OUTBOUND_ALLOW_HTTP'),
  SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL: flag('SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL'),
});

/** outboundPolicyFromSettings reads SLIPWAY_OUTBOUND_ALLOW_HTTP and SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL (both default false). */
export function outboundPolicyFromSettings(settings: PluginSettings): OutboundPolicy {
  const s = readPluginSettings('outbound calls', outboundSettingsSchema, settings);
  return Object.freeze({ allowHttp: s.SLIPWAY_OUTBOUND_ALLOW_HTTP, allowLinkLocal: s.SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL });
}

/** OutboundRefusedError says a call was not made because the policy forbids it; its message names the setting that would allow it. */
export class OutboundRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

// Names that resolve to an instance metadata service on some cloud.
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

const BLOCKED = new net.BlockList();
BLOCKED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, AWS/Azure/GCP/OCI metadata at 169.254.169.254
BLOCKED.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
BLOCKED.addSubnet('fe80::', 10, 'ipv6'); // IPv6 link-local
BLOCKED.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

// An IPv4-mapped IPv6 address (::ffff:a9fe:a9fe, ::ffff:169.254.169.254) is the IPv4 address it carries.
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const kind = net.isIP(bare);
  if (kind === 4) return { address: bare, family: 'ipv4' };
  if (kind !== 6) return null;
  const mapped = /^(?:0{0,4}:){0,4}:?(?:0{0,4}:)?ffff:(.+)$/i.exec(bare);
  if (mapped) {
    const tail = mapped[1] as string;
    if (net.isIPv4(tail)) return { address: tail, family: 'ipv4' };
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
    if (hex) {
      const hi = parseInt(hex[1] as string, 16);
      const lo = parseInt(hex[2] as string, 16);
      return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
    }
  }
  return { address: bare, family: 'ipv6' };
}

/** isForbiddenAddress says whether an IP address is link-local or a cloud metadata service (IPv4-mapped forms included). */
export function isForbiddenAddress(address: string): boolean {
  const ip = unmapped(address);
  return ip !== null && BLOCKED.check(ip.address, ip.family);
}

/** isLoopbackAddress says whether an IP address is loopback (127.0.0.0/8, ::1, and their IPv4-mapped forms). */
export function isLoopbackAddress(address: string): boolean {
  const ip = unmapped(address);
  return ip !== null && LOOPBACK.check(ip.address, ip.family);
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || isLoopbackAddress(host);
}

/**
 * checkOutboundUrl refuses, before any connection, a URL the policy forbids: not http(s), credentials in it, plain
 * http to a host other than loopback, a metadata host name or a forbidden literal address. `field` names the
 * setting or pipeline field the URL came from, so the message says what to change.
 */
export function checkOutboundUrl(raw: string, policy: OutboundPolicy, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefusedError(`${field}: not a URL; write an absolute https:// URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OutboundRefusedError(`${field}: ${url.protocol} URLs are not called; write an https:// URL`);
  if (url.username !== '' || url.password !== '') {
    throw new OutboundRefusedError(`${field}: the URL carries credentials (user:password@); remove them: requests are authenticated by their signature or a key from the worker's environment`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (url.protocol === 'http:' && !policy.allowHttp && !isLoopbackHost(host)) {
    throw new OutboundRefusedError(`${field}: ${url.origin} is plain http to a host that is not loopback; use https, or set SLIPWAY_OUTBOUND_ALLOW_HTTP=true on the worker if this network is trusted`);
  }
  if (!policy.allowLinkLocal && (METADATA_HOSTS.has(host) || isForbiddenAddress(host))) {
    throw new OutboundRefusedError(`${field}: ${url.host} is a link-local or cloud metadata address, which the worker never calls; name another host, or set SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL=true if no metadata service is reachable from it`);
  }
  return url;
}

/** Resolve is the DNS lookup whose answers are checked (dns.lookup unless a test hands in one that rebinds). */
export type Resolve = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

/** guardedLookup is a DNS lookup for sockets that fails when any address a name resolves to is forbidden, or not loopback when only loopback may be reached. */
export function guardedLookup(policy: OutboundPolicy, field: string, loopbackOnly: boolean, resolve: Resolve = dns.lookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses;
      const bad = list.find((a) => (!policy.allowLinkLocal && isForbiddenAddress(a.address)) || (loopbackOnly && !isLoopbackAddress(a.address)));
      if (bad) {
        const why = loopbackOnly && !isLoopbackAddress(bad.address)
          ? `resolves to ${bad.address}, not a loopback address, and the URL is plain http; use https, or set SLIPWAY_OUTBOUND_ALLOW_HTTP=true`
          : `resolves to ${bad.address}, a link-local or cloud metadata address the worker never calls; set SLIPWAY_OUTBOUND_ALLOW_LINK_LOCAL=true only if no metadata service is reachable`;
        return callback(new OutboundRefusedError(`${field}: ${hostname} ${why}`), '', 4);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
      callback(null, first.address, first.family);
    });
  };
}

/** OutboundRequest is one call: the method, headers, body and the signal that aborts it (a timeout, an activity's cancellation). */
export interface OutboundRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** The pipeline field or setting the URL came from, named in refusals. */
  field: string;
  /** The DNS lookup checked at connect time (dns.lookup by default). */
  resolve?: Resolve;
}

// Statuses a Response may not carry a body with.
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * outboundFetch makes one request the policy allows and answers a Response whose body the caller reads capped
 * (lib/http.ts readCapped). Redirects are never followed: a 3xx is answered as it is. A refusal is an
 * OutboundRefusedError; a network failure is an Error "fetch failed" with its cause, as fetch reports it.
 */
export function outboundFetch(raw: string, init: OutboundRequest, policy: OutboundPolicy): Promise<Response> {
  const url = checkOutboundUrl(raw, policy, init.field);
  const loopbackOnly = url.protocol === 'http:' && !policy.allowHttp;
  const literal = net.isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0;
  const lookup = literal ? undefined : guardedLookup(policy, init.field, loopbackOnly, init.resolve);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Response>((resolve, reject) => {
    if (init.signal?.aborted) return reject(init.signal.reason);
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const req = client.request(
      url,
      {
        method: init.method,
        headers: { ...init.headers, ...(init.body !== undefined ? { 'content-length': String(Buffer.byteLength(init.body)) } : {}) },
        // A fresh connection per call: a pooled socket would skip the lookup check.
        agent: false,
        ...(lookup ? { lookup } : {}),
      },
      (res) => {
        settled = true;
        init.signal?.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 0;
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
        }
        if (NULL_BODY.has(status) || status < 200 || status > 599) {
          res.destroy();
          resolve(new Response(null, { status: status >= 200 && status <= 599 ? status : 502, headers }));
          return;
        }
        // The body stays abortable: the caller's signal also ends the read.
        init.signal?.addEventListener('abort', () => res.destroy(init.signal?.reason as Error), { once: true });
        resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers }));
      },
    );
    const onAbort = () => {
      req.destroy();
      fail(init.signal?.reason);
    };
    init.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => {
      init.signal?.removeEventListener('abort', onAbort);
      fail(err instanceof OutboundRefusedError ? err : new Error('fetch failed', { cause: err }));
    });
    req.end(init.body);
  });
}

/** sameOrigin says whether a URL has the origin of another (scheme, host and port), so a status URL cannot point the worker elsewhere. */
export function sameOrigin(url: string, of: string): boolean {
  try {
    return new URL(url).origin === new URL(of).origin;
  } catch {
    return false;
  }
}
