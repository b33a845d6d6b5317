/**
 * What a subscription to release events may say: where events go (the
 * outbound URL rule lives in subscriptionUrlProblem, the one place to swap for
 * the shared outbound rules), which events, in which format, and which
 * allowlisted variable on the worker holds the signing secret.
 */
import { EVENT_FORMATS, parseEventPatterns, type EventFormat } from './events';

/** EVENT_SECRET_ENV_PREFIX is the allowlist of secret variables: a subscription may name only variables that start with it. */
export const EVENT_SECRET_ENV_PREFIX = 'SLIPWAY_EVENT_SECRET_';

/** SubscriptionInput is a subscription as asked for, checked by checkSubscriptionInput. */
export interface SubscriptionInput {
  url: string;
  events: string[];
  format: EventFormat;
  /** Variable on the worker holding the HMAC secret; null only for Slack, whose incoming webhooks carry their own secret in the URL. */
  secretEnv: string | null;
}

/** FieldProblem names a bad field and why (the registry's InvalidInputError carries these). */
export interface SubscriptionProblem {
  field: string;
  reason: string;
}

// Loopback hosts may be plain http (local receivers, tests); everything else must be https.
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** subscriptionUrlProblem says what is wrong with an outbound event URL, or null: http(s), no credentials, https outside loopback. */
export function subscriptionUrlProblem(url: unknown): string | null {
  if (typeof url !== 'string' || url.length === 0) return 'must be the receiver\'s URL, such as "https://hooks.example.com/slipway"';
  if (url.length > 2048) return 'is too long for a URL (at most 2048 characters)';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url.slice(0, 60)}" is not a URL: give an absolute https URL such as "https://hooks.example.com/slipway"`;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `must be an https URL, not ${parsed.protocol.replace(/:$/, '')}:`;
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry a user name or password: receivers check the signature header instead';
  if (parsed.hash !== '') return 'must not have a #fragment (it is never sent)';
  if (parsed.protocol === 'http:' && !LOOPBACK.test(parsed.hostname)) {
    return `must be https outside loopback (127.0.0.1, localhost, [::1]): events carry release details, and ${parsed.host} would get them in clear text`;
  }
  return null;
}

/** secretEnvProblem says what is wrong with a secret's variable name, or null: it must be on the allowlist. */
export function secretEnvProblem(name: unknown): string | null {
  if (typeof name !== 'string' || !/^[A-Z_][A-Z0-9_]{0,127}$/.test(name)) {
    return 'must be the name of an environment variable on the worker (upper-case letters, digits, \'_\'), such as "SLIPWAY_EVENT_SECRET_OPS"; the secret itself never goes in a subscription';
  }
  if (!name.startsWith(EVENT_SECRET_ENV_PREFIX) || name.length === EVENT_SECRET_ENV_PREFIX.length) {
    return `${name} is not allowed: subscriptions may only name variables that start with ${EVENT_SECRET_ENV_PREFIX} (e.g. ${EVENT_SECRET_ENV_PREFIX}OPS), so no other worker secret can be used to sign`;
  }
  return null;
}

/** checkSubscriptionInput validates a subscription request field by field; every problem is reported, nothing is written on any. */
export function checkSubscriptionInput(raw: unknown): { ok: true; input: SubscriptionInput } | { ok: false; problems: SubscriptionProblem[] } {
  const problems: SubscriptionProblem[] = [];
  const body = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const known = new Set(['url', 'events', 'format', 'secretEnv']);
  for (const key of Object.keys(body)) if (!known.has(key)) problems.push({ field: key, reason: `is not a subscription field (fields: ${[...known].join(', ')})` });
  const urlProblem = subscriptionUrlProblem(body.url);
  if (urlProblem) problems.push({ field: 'url', reason: urlProblem });
  let events: string[] = [];
  const rawEvents = body.events;
  if (typeof rawEvents !== 'string' && !(Array.isArray(rawEvents) && rawEvents.every((e) => typeof e === 'string'))) {
    problems.push({ field: 'events', reason: 'must be a list of event types or globs, such as ["release.approval.*", "release.ended"]' });
  } else {
    const parsed = parseEventPatterns(rawEvents as string | string[]);
    if (parsed.ok) events = parsed.patterns;
    else problems.push({ field: 'events', reason: parsed.reason });
  }
  const format = body.format === undefined ? 'cloudevents' : body.format;
  if (!EVENT_FORMATS.includes(format as EventFormat)) problems.push({ field: 'format', reason: `must be one of ${EVENT_FORMATS.join(', ')}` });
  let secretEnv: string | null = null;
  if (body.secretEnv === undefined || body.secretEnv === null || body.secretEnv === '') {
    if (format !== 'slack') problems.push({ field: 'secretEnv', reason: `is required for ${String(format)} subscriptions: name the worker variable holding the signing secret, e.g. ${EVENT_SECRET_ENV_PREFIX}OPS` });
  } else {
    const secretProblem = secretEnvProblem(body.secretEnv);
    if (secretProblem) problems.push({ field: 'secretEnv', reason: secretProblem });
    else secretEnv = body.secretEnv as string;
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, input: { url: body.url as string, events, format: format as EventFormat, secretEnv } };
}

/** redactUrl shows where a URL points without what may be a secret in it (Slack puts its token in the path): origin and first path segment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const first = u.pathname.split('/').filter(Boolean)[0];
    const more = u.pathname.split('/').filter(Boolean).length > 1 || u.search !== '';
    return `${u.origin}${first ? `/${first}` : ''}${more ? '/…' : ''}`;
  } catch {
    return '<not a URL>';
  }
}
