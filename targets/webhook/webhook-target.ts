/**
 * The `webhook` deploy target, for platforms Slipway does not drive itself:
 * deploy and undo are signed JSON POSTs to the user's endpoint, which answers
 * at once (200) or accepts the work (202) and gives a status URL that Slipway
 * polls until `succeeded` or `failed`. The protocol, with a receiver to copy,
 * is in docs/webhook-protocol.md.
 *
 * Every request is signed (lib/request-signing.ts). Each request has an
 * opKey the endpoint must dedupe on: a retried activity (worker crash,
 * timeout) POSTs the same opKey again and must get the same operation back,
 * not a second deploy. The release reuses its deploy key for every canary
 * step of a stage, so a deploy's opKey is `<deployKey>:<weight>` (one per
 * step) and the deployKey travels beside it for undo. Retries belong to the
 * activity: this target makes one attempt and says, by the failure's type,
 * whether another could help.
 *
 * With the registry, the target also keeps the registry's live pointer true:
 * once the platform confirms a version serves 100%, the pointer moves (by the
 * deploy's opKey, so a retry moves it once), and an undo puts it back, so
 * "what is live" and "last known good" hold for webhook environments too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { z } from 'zod';
import { describeFetchError, isTimeout, isUnavailableStatus, readCapped, snippet } from '../../lib/http';
import { OutboundRefusedError, SAFE_OUTBOUND, checkOutboundUrl, outboundFetch, sameOrigin, type OutboundPolicy } from '../../lib/outbound';
import { WEBHOOK_SIGNATURE_HEADER, signWebhookRequest } from '../../lib/request-signing';
import { registryTarget } from '../registry/registry-target';
import type { DeployTarget } from '../types';
import { FailureType } from '../../domain/failures';
import type { ModelRegistry } from '../../registry/types';

/** webhookTargetConfigSchema validates the target's settings (at worker start, so a bad URL fails there, not mid-release). */
export const webhookTargetConfigSchema = z.strictObject({
  // Registered name that pipeline stages put under `target:`.
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, "must be 1-64 letters, digits, '_' or '-'").default('webhook'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  // Where undo requests go; `<url>/undo` when absent.
  undoUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  secret: z.string({ error: 'must be the shared HMAC secret' }).min(16, 'must be at least 16 characters (32 random bytes, hex or base64, is better)'),
  // Per HTTP request (the POST and each status poll).
  timeoutMs: z.number().int().positive().default(10_000),
  pollIntervalMs: z.number().int().positive().default(2_000),
  // Polling budget per attempt; keep it under the deploy activity's 5-minute start-to-close timeout.
  maxPollMs: z.number().int().positive().default(240_000),
});

/**
 * WebhookTargetOptions configure the webhook target; `registry`, when given, lets deploys carry the
 * version's artifact and moves the live pointer after the platform confirms.
 */
export type WebhookTargetOptions = z.input<typeof webhookTargetConfigSchema> & {
  registry?: ModelRegistry;
  /** Which calls the worker may make (SLIPWAY_OUTBOUND_*); https outside loopback, no link-local or metadata address, by default. */
  outbound?: OutboundPolicy;
};

/** WebhookStatus is where an operation stands on the user's platform. */
export type WebhookStatus = 'pending' | 'running' | 'succeeded' | 'failed';

/** WebhookDeployBody is the JSON a deploy request carries. */
export interface WebhookDeployBody {
  action: 'deploy';
  /** `<deployKey>:<weight>`: one operation per canary step, deduped by the endpoint. */
  opKey: string;
  /** The release's key for this stage's deploy, shared by all its canary steps; undo names it. */
  deployKey: string;
  releaseId: string;
  model: string;
  env: string;
  version: string;
  /** Percent of traffic for the version: below 100 is a canary step; 100 makes it the stable version. */
  weight: number;
  by: string;
  artifact?: { uri: string; sha256: string };
}

/** WebhookUndoBody is the JSON an undo request carries. */
export interface WebhookUndoBody {
  action: 'undo';
  /** `<deployKey>:undo`, deduped like a deploy's. */
  opKey: string;
  /** The deploy to undo: put back what was stable before its first step. */
  deployKey: string;
  releaseId: string;
  model: string;
  env: string;
  failedVersion: string;
  by: string;
  reason: string;
}

const answerSchema = z.object({
  status: z.enum(['pending', 'running', 'succeeded', 'failed']).optional(),
  statusUrl: z.string().min(1).max(4096).optional(),
  previousVersion: z.string().nullable().optional(),
  restoredTo: z.string().nullable().optional(),
  skipped: z.string().optional(),
  message: z.string().optional(),
});

type Answer = z.output<typeof answerSchema>;

// Answers bigger than this are not protocol answers; reading stops there.
const MAX_ANSWER_BYTES = 64 * 1024;
// A Location header longer than a statusUrl may be is not one.
const MAX_LOCATION_CHARS = 4096;

/** webhookTarget creates a deploy target that drives the user's platform through signed webhooks; idempotent by opKey. */
export function webhookTarget(options: WebhookTargetOptions): DeployTarget {
  const { registry, outbound = SAFE_OUTBOUND, ...settings } = options;
  const parsed = webhookTargetConfigSchema.safeParse(settings);
  if (!parsed.success) {
    throw new Error(`webhook target: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; ')}`);
  }
  const config = parsed.data;
  const undoUrl = config.undoUrl ?? defaultUndoUrl(config.url);
  // At worker start: a URL the worker may not call is a configuration error, not a failed release.
  for (const [field, url] of [['SLIPWAY_WEBHOOK_URL', config.url], ['undoUrl', undoUrl]] as const) {
    try {
      checkOutboundUrl(url, outbound, field);
    } catch (err) {
      throw new Error(`webhook target: ${(err as Error).message}`, { cause: err });
    }
  }
  const pointers = registry ? registryTarget(registry) : undefined;

  // One deploy or undo: POST, then poll the status URL if the work is asynchronous.
  async function operate(url: string, body: WebhookDeployBody | WebhookUndoBody, what: string): Promise<Answer> {
    const text = JSON.stringify(body);
    let response: HttpAnswer;
    try {
      response = await request(url, { method: 'POST', body: text, opKey: body.opKey });
    } catch (err) {
      throw unreachable(err, url, what);
    }
    if (response.status < 200 || response.status > 299) {
      const detail = `${url} answered HTTP ${response.status}${snippet(response.text)}`;
      if (isUnavailableStatus(response.status)) throw ApplicationFailure.retryable(`${what}: ${detail}`, 'WebhookUnavailable');
      const hint = response.status === 401 || response.status === 403 ? ' (is the secret the endpoint verifies with the one this worker signs with?)' : '';
      throw ApplicationFailure.nonRetryable(`${what} refused: ${detail}${hint}`, FailureType.WebhookRejected);
    }
    let answer = parseAnswer(response, url, what);
    // 200 with no status means done; 202 with no status means accepted.
    const status: WebhookStatus = answer.status ?? (response.status === 202 ? 'pending' : 'succeeded');
    if (status === 'succeeded' || status === 'failed') return settle({ ...answer, status }, url, what);
    const statusUrl = answer.statusUrl ?? response.location;
    if (!statusUrl) throw ApplicationFailure.nonRetryable(`${what}: ${url} accepted the request but gave no statusUrl (nor Location header) to poll`, FailureType.WebhookProtocolError);
    let pollUrl: string;
    try {
      pollUrl = new URL(statusUrl, url).toString();
    } catch {
      throw ApplicationFailure.nonRetryable(`${what}: ${url} gave a statusUrl that is not a URL: ${JSON.stringify(statusUrl.slice(0, 200))}`, FailureType.WebhookProtocolError);
    }
    // Signed polls go only back to the endpoint that was configured: an answer cannot send them elsewhere.
    if (!sameOrigin(pollUrl, url)) {
      throw ApplicationFailure.nonRetryable(
        `${what}: ${url} gave a statusUrl on another origin (${JSON.stringify(pollUrl.slice(0, 200))}); the status URL must be on ${new URL(url).origin}, relative or absolute`,
        FailureType.WebhookProtocolError,
      );
    }
    const deadline = Date.now() + config.maxPollMs;
    let last = `${status}`;
    while (Date.now() < deadline) {
      await sleep(Math.min(config.pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, { signal: cancellation() });
      let polled: HttpAnswer;
      try {
        polled = await request(pollUrl, { method: 'GET', body: '', opKey: body.opKey });
      } catch (err) {
        if (isCancellation(err)) throw err;
        if (err instanceof OutboundRefusedError) throw unreachable(err, pollUrl, what);
        last = `unanswered (${describeError(err)})`;
        continue;
      }
      // A status endpoint that hiccups is polled again until the deadline; the last problem is reported then.
      if (polled.status < 200 || polled.status > 299) {
        last = `HTTP ${polled.status}${snippet(polled.text)}`;
        continue;
      }
      answer = parseAnswer(polled, pollUrl, what);
      if (answer.status === undefined) throw ApplicationFailure.nonRetryable(`${what}: ${pollUrl} answered without a "status"`, FailureType.WebhookProtocolError);
      if (answer.status === 'succeeded' || answer.status === 'failed') return settle(answer, pollUrl, what);
      last = answer.status;
    }
    throw ApplicationFailure.retryable(
      `${what}: not finished after polling ${pollUrl} for ${config.maxPollMs} ms (last: ${last}); the next attempt re-sends opKey ${body.opKey}, which the endpoint must dedupe`,
      FailureType.WebhookTimeout,
    );
  }

  // One signed HTTP request with the per-request timeout and the activity's cancellation.
  async function request(url: string, init: { method: 'GET' | 'POST'; body: string; opKey: string }): Promise<HttpAnswer> {
    const timeout = AbortSignal.timeout(config.timeoutMs);
    const cancel = cancellation();
    const response = await outboundFetch(
      url,
      {
        method: init.method,
        headers: {
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookRequest(config.secret, { method: init.method, url, body: init.body }),
          'idempotency-key': init.opKey,
          'user-agent': 'slipway-webhook/1',
          ...(init.method === 'POST' ? { 'content-type': 'application/json' } : {}),
          accept: 'application/json',
        },
        ...(init.method === 'POST' ? { body: init.body } : {}),
        signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
        field: 'the webhook target URL',
      },
      outbound,
    );
    const location = response.headers.get('location') ?? undefined;
    return { status: response.status, text: await readCapped(response, MAX_ANSWER_BYTES), location: location && location.length <= MAX_LOCATION_CHARS ? location : undefined };
  }

  function unreachable(err: unknown, url: string, what: string): Error {
    if (isCancellation(err)) return err as Error;
    if (err instanceof OutboundRefusedError) return ApplicationFailure.nonRetryable(`${what}: ${err.message}`, FailureType.WebhookRejected);
    const why = isTimeout(err) ? `gave no answer within ${config.timeoutMs} ms` : `is unreachable (${describeError(err)})`;
    return ApplicationFailure.retryable(`${what}: ${url} ${why}`, FailureType.WebhookUnavailable);
  }

  return {
    name: config.name,
    supportsWeights: true,
    async deploy(req) {
      const version = registry ? await registry.getVersion(req.model, req.version) : undefined;
      const weight = req.weight ?? 100;
      const body: WebhookDeployBody = {
        action: 'deploy',
        opKey: `${req.opKey}:${weight}`,
        deployKey: req.opKey,
        releaseId: req.releaseId,
        model: req.model,
        env: req.env,
        version: req.version,
        weight,
        by: req.by,
        ...(version ? { artifact: { uri: version.artifact.uri, sha256: version.artifact.sha256 } } : {}),
      };
      const answer = await withHeartbeats(() => operate(config.url, body, `deploy of ${req.model}@${req.version} to ${req.env} (${body.weight}%)`));
      // Only after the platform confirms, and only at 100%: a canary step leaves the pointer on the stable version.
      if (pointers && weight === 100) await pointers.deploy({ ...req, target: req.target ?? config.name });
      return { previousVersion: answer.previousVersion ?? null };
    },
    async undo(req) {
      const body: WebhookUndoBody = {
        action: 'undo',
        opKey: `${req.opKey}:undo`,
        deployKey: req.opKey,
        releaseId: req.releaseId,
        model: req.model,
        env: req.env,
        failedVersion: req.failedVersion,
        by: req.by,
        reason: req.reason,
      };
      const answer = await withHeartbeats(() => operate(undoUrl, body, `undo of ${req.model}@${req.failedVersion} in ${req.env}`));
      // Puts the pointer back if the deploy moved it (it reached 100%); it stays if the environment moved on since.
      const moved = pointers ? await pointers.undo({ ...req, target: req.target ?? config.name }) : undefined;
      if (answer.skipped) return moved && !moved.skipped ? { restoredTo: moved.restoredTo } : { restoredTo: answer.restoredTo ?? null, skipped: answer.skipped };
      return { restoredTo: answer.restoredTo ?? null };
    },
  };
}

interface HttpAnswer {
  status: number;
  text: string;
  location?: string;
}

// A finished operation: a failure is final for this opKey, so retrying cannot help.
function settle(answer: Answer, url: string, what: string): Answer {
  if (answer.status === 'failed') {
    throw ApplicationFailure.nonRetryable(`${what} failed on the platform (${url}): ${answer.message ?? 'no message given'}`, what.startsWith('undo') ? FailureType.UndoFailed : FailureType.DeployFailed);
  }
  return answer;
}

function parseAnswer(response: HttpAnswer, url: string, what: string): Answer {
  if (response.text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(response.text);
  } catch {
    throw ApplicationFailure.nonRetryable(`${what}: ${url} answered HTTP ${response.status} with a body that is not JSON${snippet(response.text)}`, FailureType.WebhookProtocolError);
  }
  const parsed = answerSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(`${what}: ${url} answered with an unexpected body (${issues})`, FailureType.WebhookProtocolError);
  }
  return parsed.data;
}

function defaultUndoUrl(url: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/undo`;
  return u.toString();
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    // Called outside an activity (tests, scripts): no heartbeats, no cancellation.
    return undefined;
  }
}

// The deploy activity's heartbeat timeout (10 s) is shorter than a slow POST plus a poll interval: beat on a timer throughout.
async function withHeartbeats<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = activityContext();
  const timer = ctx ? setInterval(() => ctx.heartbeat(), 1_000) : undefined;
  try {
    ctx?.heartbeat();
    return await fn();
  } finally {
    if (timer) clearInterval(timer);
  }
}

function cancellation(): AbortSignal | undefined {
  return activityContext()?.cancellationSignal;
}

function isCancellation(err: unknown): boolean {
  return cancellation()?.aborted === true || (err instanceof Error && err.name === 'AbortError');
}

function describeError(err: unknown): string {
  return isTimeout(err) ? 'timed out' : describeFetchError(err);
}
