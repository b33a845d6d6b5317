/**
 * The release board's entry: the shell (navigation, login, API-down banner)
 * and the hash router. Every text from the API is rendered as text by
 * Preact; nothing here sets HTML.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { checkToken, logIn, logOut, ApiError } from './api';
import { usePoll, useRoute, useSession } from './hooks';
import type { Me } from './types';
import { finishLogin, startLogin, type LoginSettings } from './oidc';
import { loginAnswer } from './pkce';
import { BoardPage } from './pages/board';
import { ReleasePage } from './pages/release';
import { InboxPage } from './pages/inbox';
import { ModelPage } from './pages/model';
import { AuditPage } from './pages/audit';

function Login({ expired, settings, oidcError }: { expired: boolean; settings: LoginSettings | null; oidcError: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [leaving, setLeaving] = useState(false);
  const oidc = settings?.oidc ?? null;
  const sso = async () => {
    if (!oidc) return;
    setLeaving(true);
    try {
      await startLogin(oidc);
    } catch (err) {
      setError(`Single sign-on failed: ${err instanceof Error ? err.message : String(err)}`);
      setLeaving(false);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Paste an API token (SLIPWAY_API_TOKENS, or the one `slipway dev` printed).');
      return;
    }
    try {
      await checkToken<Me>(t);
      logIn(t);
      setToken('');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <div class="login-backdrop" role="dialog" aria-modal="true" aria-labelledby="login-title">
      <form class="login" onSubmit={submit}>
        <h1 id="login-title">{expired ? 'Your session ended: log in again' : 'Log in to the Slipway release board'}</h1>
        <p>The token stays in this tab only (sessionStorage). You act as its user: approvals are signed by the API as you.</p>
        {oidc && (
          <button type="button" class="sso" disabled={leaving} onClick={() => void sso()}>
            Log in with single sign-on ({new URL(oidc.issuer).host})
          </button>
        )}
        {oidcError && <p class="error" role="alert" data-testid="sso-error">{oidcError}</p>}
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" autoFocus value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit">Log in</button>
      </form>
    </div>
  );
}

function Nav({ me, route, waiting }: { me: Me | undefined; route: string; waiting: number | undefined }) {
  const links: [string, string][] = [['#/', 'Board'], ['#/inbox', `Inbox${waiting ? ` (${waiting})` : ''}`], ['#/audit', 'Audit']];
  return (
    <header class="top">
      <a class="brand" href="#/">Slipway</a>
      <nav aria-label="Main">
        {links.map(([href, label]) => (
          <a href={href} aria-current={route === href.slice(1) || (href === '#/' && route === '/') ? 'page' : undefined}>{label}</a>
        ))}
      </nav>
      <div class="who">
        {me && <span data-testid="whoami">{me.user}</span>}
        <button type="button" class="link" onClick={() => logOut()}>Log out</button>
      </div>
    </header>
  );
}

function App() {
  const s = useSession();
  const route = useRoute();
  const [loginSettings, setLoginSettings] = useState<LoginSettings | null>(null);
  const [oidcError, setOidcError] = useState('');
  useEffect(() => {
    fetch('/board/login', { cache: 'no-store' })
      .then((r) => (r.ok ? (r.json() as Promise<LoginSettings>) : { oidc: null }))
      .then(setLoginSettings, () => setLoginSettings({ oidc: null }));
    // Back from the issuer: exchange the code (checked against this tab's state and verifier), then keep the token as a pasted one.
    const answer = loginAnswer(location.search);
    if (answer) {
      finishLogin(answer)
        .then(async (token) => {
          await checkToken<Me>(token);
          logIn(token);
        })
        .catch((err: unknown) => setOidcError(`Single sign-on failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  }, []);
  const me = usePoll<Me>(s.token ? '/board/me' : null, 30_000);
  const inbox = usePoll<{ items: unknown[] }>(s.token ? '/board/inbox' : null, 2_000);
  useEffect(() => {
    document.title = `Slipway · ${route === '/' ? 'board' : route.split('/')[1] ?? ''}`;
  }, [route]);
  const parts = route.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  let pageEl;
  if (parts[0] === 'releases' && parts[1]) pageEl = <ReleasePage id={parts[1]} me={me.data} />;
  else if (parts[0] === 'inbox') pageEl = <InboxPage />;
  else if (parts[0] === 'models' && parts[1]) pageEl = <ModelPage model={parts[1]} me={me.data} />;
  else if (parts[0] === 'audit') pageEl = <AuditPage />;
  else pageEl = <BoardPage />;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      {s.apiDown && (
        <div class="banner" role="status" data-testid="api-down">
          The Slipway API does not answer. Retrying every second; what you see is the last good answer.
        </div>
      )}
      {s.token && <Nav me={me.data} route={route} waiting={inbox.data?.items.length} />}
      {/* The page stays mounted under the login dialog, so a 401 never loses where you were. */}
      <main id="main" tabIndex={-1} aria-hidden={!s.token || s.expired ? 'true' : undefined}>
        {s.token ? pageEl : null}
      </main>
      {(!s.token || s.expired) && <Login expired={s.expired} settings={loginSettings} oidcError={oidcError} />}
    </>
  );
}

render(<App />, document.getElementById('app')!);
