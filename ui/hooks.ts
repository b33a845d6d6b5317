/** Hooks the pages share: the session, the hash route, and polling a route. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, session, subscribe, type SessionState } from './api';

/** POLL_MS is how often pages refresh what they show. */
export const POLL_MS = 1000;

/** useSession re-renders on login, logout, 401 and API up/down. */
export function useSession(): SessionState {
  const [s, setS] = useState(session());
  useEffect(() => subscribe(() => setS(session())), []);
  return s;
}

/** useRoute is the path after '#', e.g. /releases/release-fraud-1.4.0. */
export function useRoute(): string {
  const read = () => decodeURI(location.hash.replace(/^#/, '')) || '/';
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Polled is what usePoll holds: the last good answer (kept while later calls fail), the last error, and a refresh. */
export interface Polled<T> {
  data: T | undefined;
  error: Error | undefined;
  refresh: () => void;
}

/** usePoll GETs a path now and every POLL_MS while a session is live; null path polls nothing. */
export function usePoll<T>(path: string | null, intervalMs = POLL_MS): Polled<T> {
  const s = useSession();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const tick = useRef(0);
  const [kick, setKick] = useState(0);
  useEffect(() => {
    setData(undefined);
    setError(undefined);
  }, [path]);
  useEffect(() => {
    if (!path || !s.token || s.expired) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      const mine = ++tick.current;
      try {
        const answer = await call<T>('GET', path);
        if (!stopped && mine === tick.current) {
          setData(answer);
          setError(undefined);
        }
      } catch (err) {
        if (!stopped) setError(err as Error);
      }
      if (!stopped) timer = setTimeout(() => void run(), intervalMs);
    };
    void run();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [path, s.token, s.expired, kick, intervalMs]);
  return { data, error, refresh: () => setKick((k) => k + 1) };
}
