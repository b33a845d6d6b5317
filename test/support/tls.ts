/**
 * Certificates and TLS endpoints made by the tests themselves (nothing checked
 * in): a CA, server certificates for 127.0.0.1/localhost, client certificates,
 * and an HTTP/2 TLS proxy that requires a client certificate in front of the
 * test Temporal server, recording the headers each gRPC call carried.
 */
import { webcrypto } from 'node:crypto';
import fs from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR = 3_600_000;

/** Pem is a certificate and its private key, PEM-encoded. */
export interface Pem {
  cert: string;
  key: string;
}

/** TestCa signs server and client certificates for one test file. */
export interface TestCa extends Pem {
  issue(kind: 'server' | 'client', commonName: string): Promise<Pem>;
}

let serial = 1;
const nextSerial = () => (serial++).toString(16).padStart(2, '0');

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** createTestCa makes a fresh CA (valid for a day around now). */
export async function createTestCa(name = 'Slipway Test CA'): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - HOUR);
  const notAfter = new Date(Date.now() + 24 * HOUR);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${name}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: caCert.toString('pem'),
    key: await keyPem(keys.privateKey),
    async issue(kind, commonName) {
      const leafKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        subject: `CN=${commonName}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingKey: keys.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
          ...(kind === 'server' ? [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return { cert: cert.toString('pem'), key: await keyPem(leafKeys.privateKey) };
    },
  };
}

/** writePemFiles writes PEM texts to a fresh temporary folder and returns their paths by name. */
export async function writePemFiles<K extends string>(files: Record<K, string>): Promise<{ dir: string; paths: Record<K, string> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'slipway-tls-'));
  const paths = {} as Record<K, string>;
  for (const [name, text] of Object.entries(files) as [K, string][]) {
    paths[name] = path.join(dir, `${name}.pem`);
    await fs.writeFile(paths[name], text, { mode: 0o600 });
  }
  return { dir, paths };
}

/** ObservedCall is one gRPC call that reached the upstream through the proxy. */
export interface ObservedCall {
  path: string;
  authorization: string | undefined;
  /** The verified client certificate's subject CN. */
  clientCn: string | undefined;
}

/** MtlsProxy is a TLS gRPC endpoint requiring a client certificate signed by the CA. */
export interface MtlsProxy {
  address: string;
  calls: ObservedCall[];
  /** Handshakes refused (no or wrong client certificate), with the TLS error. */
  refusedHandshakes: string[];
  close(): Promise<void>;
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(headers: http2.IncomingHttpHeaders, keepPseudo: string[]): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_HEADERS.has(name)) continue;
    if (name.startsWith(':') && !keepPseudo.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * startMtlsProxy listens on 127.0.0.1 (a free port) with `server` as its
 * certificate, requires client certificates signed by `clientCa`, and proxies
 * each HTTP/2 stream (headers, data, trailers) to the plain gRPC `upstream`.
 */
export async function startMtlsProxy(options: { server: Pem; clientCa: string; upstream: string }): Promise<MtlsProxy> {
  const calls: ObservedCall[] = [];
  const refusedHandshakes: string[] = [];
  const upstream = http2.connect(`http://${options.upstream}`);
  upstream.on('error', () => undefined);
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createSecureServer({ key: options.server.key, cert: options.server.cert, ca: [options.clientCa], requestCert: true, rejectUnauthorized: true });
  server.on('tlsClientError', (err) => refusedHandshakes.push(err.message));
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const socket = stream.session?.socket as tls.TLSSocket | undefined;
    const peer = socket?.getPeerCertificate();
    calls.push({ path: String(headers[':path']), authorization: headers.authorization, clientCn: peer?.subject?.CN as string | undefined });
    const up = upstream.request(forwardable(headers, [':method', ':path']), { endStream: false });
    let trailers: http2.IncomingHttpHeaders = {};
    up.on('response', (responseHeaders) => {
      if (stream.destroyed) return;
      // A trailers-only answer (status in the headers, no body) must end with those headers.
      const trailersOnly = responseHeaders['grpc-status'] !== undefined;
      stream.respond(forwardable(responseHeaders, [':status']), trailersOnly ? { endStream: true } : { waitForTrailers: true });
    });
    up.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(forwardable(trailers, [])));
    up.on('data', (chunk: Buffer) => {
      if (!stream.destroyed && !stream.writableEnded) stream.write(chunk);
    });
    up.on('end', () => {
      if (!stream.destroyed && !stream.writableEnded && stream.headersSent) stream.end();
    });
    up.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.pipe(up);
    stream.on('close', () => {
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    calls,
    refusedHandshakes,
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.destroy();
    },
  };
}

/** startTlsPipe is a TLS listener on 127.0.0.1 that pipes each connection to a plain TCP upstream (for wire protocols whose bytes need no reading). */
export async function startTlsPipe(options: { server: Pem; upstreamPort: number }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: options.server.key, cert: options.server.cert }, (socket) => {
    const upstream = net.connect(options.upstreamPort, '127.0.0.1');
    sockets.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    const done = () => {
      socket.destroy();
      upstream.destroy();
      sockets.delete(socket);
      sockets.delete(upstream);
    };
    socket.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
