/**
 * OIDC login for the board: the authorization code flow with PKCE (S256)
 * and state, as a public client (no secret). The issuer and client id come
 * from the API (GET /board/login); the endpoints from the issuer's discovery
 * document. The verifier and state live in sessionStorage for this tab only,
 * and the token the API accepts is kept like a pasted one.
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

/** PendingLogin is what the tab remembers between leaving for the issuer and coming back. */
export interface PendingLogin {
  state: string;
  verifier: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
  /** The board page to come back to (the hash route). */
  returnTo: string;
}

const PENDING_KEY = 'slipway.oidc.pending';

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

/** startLogin reads the discovery document, remembers the verifier and state for this tab, and leaves for the issuer. */
export async function startLogin(oidc: { issuer: string; clientId: string }): Promise<void> {
  const res = await fetch(`${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { cache: 'no-store' });
  if (!res.ok) throw new Error(`the issuer's discovery document answered ${res.status}`);
  const d = checkDiscovery(await res.json(), oidc.issuer);
  const verifier = randomToken();
  const state = randomToken();
  const redirectUri = `${location.origin}/`;
  const pending: PendingLogin = { state, verifier, tokenEndpoint: d.token_endpoint, clientId: oidc.clientId, redirectUri, returnTo: location.hash || '#/' };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  location.assign(authorizeUrl(d, { clientId: oidc.clientId, redirectUri, challenge: await pkceChallenge(verifier), state }));
}

/** loginAnswer is the issuer's answer in this page's address, or null when there is none. */
export function loginAnswer(search: string): { code: string | null; state: string | null; error: string | null } | null {
  const q = new URLSearchParams(search);
  if (!q.has('code') && !q.has('error')) return null;
  const error = q.get('error');
  return { code: q.get('code'), state: q.get('state'), error: error ? `${error}${q.get('error_description') ? `: ${q.get('error_description')}` : ''}` : null };
}

/**
 * finishLogin exchanges the code when the page comes back from the issuer:
 * the state must be the one this tab sent, the verifier goes to the token
 * endpoint. The address loses the code whatever happens. Returns the token.
 */
export async function finishLogin(answer: { code: string | null; state: string | null; error: string | null }): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  let pending: PendingLogin | null;
  try {
    pending = raw ? (JSON.parse(raw) as PendingLogin) : null;
  } catch {
    pending = null;
  }
  history.replaceState(null, '', `/${pending?.returnTo ?? '#/'}`);
  dispatchEvent(new HashChangeEvent('hashchange'));
  if (answer.error) throw new Error(`the identity provider refused the login: ${answer.error}`);
  if (!pending || !answer.state || answer.state !== pending.state) throw new Error('this login answer is not for a login this tab started (state does not match): log in again');
  if (!answer.code) throw new Error('the identity provider sent no code: log in again');
  let res: Response;
  try {
    res = await fetch(pending.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: answer.code, redirect_uri: pending.redirectUri, client_id: pending.clientId, code_verifier: pending.verifier }),
      cache: 'no-store',
    });
  } catch {
    throw new Error('the token endpoint does not answer: log in again');
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; id_token?: unknown; error?: unknown; error_description?: unknown };
  if (!res.ok) throw new Error(`the token endpoint refused the code: ${String(body.error ?? res.status)}${body.error_description ? `: ${String(body.error_description)}` : ''}`);
  const token = pickToken(body);
  if (!token) throw new Error('the token endpoint answered without a JWT access token or ID token');
  return token;
}
