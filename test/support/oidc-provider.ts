/**
 * A minimal OpenID provider on 127.0.0.1 for tests of the board's login:
 * discovery, an authorize endpoint that logs one fixed subject in at once and
 * redirects back with a code, a token endpoint that checks the client, the
 * redirect URI and the PKCE (S256) verifier, and a JWKS. Tokens are signed
 * with `jose`. Every request is recorded for the assertions.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/** TestOidcProvider is a running provider: its issuer URL, what it was asked, and how to stop it. */
export interface TestOidcProvider {
  issuer: string;
  jwksUrl: string;
  authorizeRequests: URLSearchParams[];
  tokenRequests: URLSearchParams[];
  tokenRefusals: string[];
  close(): Promise<void>;
}

/** startOidcProvider listens on a free loopback port; `subject` is who every login is. */
export async function startOidcProvider(opts: { clientId: string; audience: string; subject: string }): Promise<TestOidcProvider> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const authorizeRequests: URLSearchParams[] = [];
  const tokenRequests: URLSearchParams[] = [];
  const tokenRefusals: string[] = [];
  let issuer = '';
  // The board fetches discovery and the token endpoint from its own origin: they answer CORS as a provider for browser apps does.
  const cors = { 'access-control-allow-origin': '*' };
  const json = (res: http.ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json', ...cors }).end(JSON.stringify(body));
  const sign = (aud: string) => new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).setIssuer(issuer).setSubject(opts.subject).setAudience(aud).setIssuedAt().setExpirationTime('10m').sign(privateKey);

  const handle = async (req: http.IncomingMessage, body: string, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'] });
    }
    if (req.method === 'GET' && url.pathname === '/jwks') return json(res, 200, { keys: [jwk] });
    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      authorizeRequests.push(q);
      const problem =
        q.get('response_type') !== 'code' ? 'response_type must be code'
        : q.get('client_id') !== opts.clientId ? 'unknown client_id'
        : q.get('code_challenge_method') !== 'S256' ? 'code_challenge_method must be S256'
        : !q.get('code_challenge') ? 'code_challenge is missing'
        : !q.get('redirect_uri') ? 'redirect_uri is missing'
        : null;
      if (problem) return res.writeHead(400, { 'content-type': 'text/plain' }).end(problem);
      const code = randomBytes(16).toString('base64url');
      codes.set(code, { challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')! });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      if (q.get('state') !== null) back.searchParams.set('state', q.get('state')!);
      return res.writeHead(302, { location: back.toString() }).end();
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const f = new URLSearchParams(body);
      tokenRequests.push(f);
      const grant = codes.get(f.get('code') ?? '');
      codes.delete(f.get('code') ?? '');
      const refuse = (description: string) => {
        tokenRefusals.push(description);
        return json(res, 400, { error: 'invalid_grant', error_description: description });
      };
      if (f.get('grant_type') !== 'authorization_code') return refuse('grant_type must be authorization_code');
      if (!grant) return refuse('unknown or used code');
      if (f.get('client_id') !== opts.clientId) return refuse('the code was issued to another client');
      if (f.get('redirect_uri') !== grant.redirectUri) return refuse('redirect_uri differs from the authorize request');
      const verifier = f.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return refuse('PKCE verifier does not match the challenge');
      return json(res, 200, { token_type: 'Bearer', expires_in: 600, access_token: await sign(opts.audience), id_token: await sign(opts.clientId) });
    }
    return json(res, 404, { error: 'not_found' });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, Buffer.concat(chunks).toString('utf8'), res).catch((err: unknown) => json(res, 500, { error: String(err) })));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    authorizeRequests,
    tokenRequests,
    tokenRefusals,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
