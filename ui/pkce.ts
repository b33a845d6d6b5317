/**
 * The pure part of the board's OIDC login (no browser storage or
 * navigation, so unit tests run it in node): PKCE S256, the discovery
 * document's checks, the authorize URL, the issuer's answer, which token to keep.
 */

/** LoginSettings is GET /board/login. */
export interface LoginSettings {
  oidc: { issuer: string; clientId: string } | null;
}

/** Discovery is the part of the issuer's discovery document the flow needs. */
export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

/** base64url encodes bytes without padding (RFC 7636 appendix A). */
export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** randomToken is 32 random bytes, base64url: a code verifier (43 characters) or a state. */
export function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** pkceChallenge is the S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function pkceChallenge(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

// Endpoints are followed by the browser with the user's session at the issuer: only https (http on loopback, for local providers).
function endpointProblem(name: string, value: unknown): string | null {
  if (typeof value !== 'string') return `${name} is missing`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name} "${value}" is not a URL`;
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return null;
  return `${name} "${value}" must be https://`;
}

/** checkDiscovery validates a discovery document against the configured issuer; it throws naming the field. */
export function checkDiscovery(doc: unknown, issuer: string): Discovery {
  const d = (doc ?? {}) as Record<string, unknown>;
  // The document must be the configured issuer's own (OpenID Connect Discovery 1.0, section 4.3).
  if (d.issuer !== issuer) throw new Error(`the discovery document names issuer "${String(d.issuer)}", not SLIPWAY_OIDC_ISSUER "${issuer}"`);
  for (const name of ['authorization_endpoint', 'token_endpoint'] as const) {
    const problem = endpointProblem(name, d[name]);
    if (problem) throw new Error(`the issuer's discovery document: ${problem}`);
  }
  // The page's CSP lets it reach only the issuer's origin.
  if (new URL(d.token_endpoint as string).origin !== new URL(issuer).origin) throw new Error(`the token endpoint ${String(d.token_endpoint)} is not on the issuer's origin, which is all the board's CSP lets the page reach`);
  return { issuer, authorization_endpoint: d.authorization_endpoint as string, token_endpoint: d.token_endpoint as string };
}

/** authorizeUrl is where the browser goes to log in: code flow, PKCE S256, state, scope openid. */
export function authorizeUrl(d: Discovery, p: { clientId: string; redirectUri: string; challenge: string; state: string }): string {
  const url = new URL(d.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', p.clientId);
  url.searchParams.set('redirect_uri', p.redirectUri);
  url.searchParams.set('scope', 'openid');
  url.searchParams.set('state', p.state);
  url.searchParams.set('code_challenge', p.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

/** pickToken takes the access token when it is a JWT (its audience is the API's), else the ID token. */
export function pickToken(body: { access_token?: unknown; id_token?: unknown }): string | null {
  const jwt = (t: unknown): t is string => typeof t === 'string' && t.split('.').length === 3;
  if (jwt(body.access_token)) return body.access_token;
  if (jwt(body.id_token)) return body.id_token;
  return null;
}

/** loginAnswer is the issuer's answer in this page's address, or null when there is none. */
export function loginAnswer(search: string): { code: string | null; state: string | null; error: string | null } | null {
  const q = new URLSearchParams(search);
  if (!q.has('code') && !q.has('error')) return null;
  const error = q.get('error');
  return { code: q.get('code'), state: q.get('state'), error: error ? `${error}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}` : null };
}
