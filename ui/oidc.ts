/**
 * OIDC login for the board: the authorization code flow with PKCE (S256)
 * and state, as a public client (no secret). The issuer and client id come
 * from the API (GET /board/login); the endpoints from the issuer's discovery
 * document. The verifier and state live in sessionStorage for this tab only,
 * and the token the API accepts is kept like a pasted one. The checks are
 * pure, in ui/pkce.ts.
 */
import { authorizeUrl, checkDiscovery, pickToken, pkceChallenge, randomToken } from './pkce';

export type { LoginSettings } from './pkce';

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
