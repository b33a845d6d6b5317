/**
 * The `webhook` gate: a check the user's own service answers. Slipway POSTs
 * the candidate (model, version, environment, registered metrics, artifact,
 * and the live version for comparison), signed like the webhook target's
 * requests (lib/request-signing.ts), and the service answers
 * `{ passed, checks?, reason? }`. No answer in time, HTTP 5xx (or 408, 425,
 * 429) and a refused connection mean the gate could not ask: it throws a
 * retryable failure and the gate activity asks again, a bounded number of
 * times. A refusal (other 4xx) or an answer of the wrong shape is a failed
 * verdict that says so: asking again would get the same answer.
 */
import { z } from 'zod';
import { parseDuration } from '../../domain/duration';
import type { GateCheck } from '../../domain/thresholds';
import type { GateResult } from '../../workflows/release/api';
import { describeFetchError, isTimeout, isUnavailableStatus, readCapped, snippet } from '../../lib/http';
import { OutboundRefusedError, outboundFetch } from '../../lib/outbound';
import { WEBHOOK_SIGNATURE_HEADER, signWebhookRequest } from '../../lib/request-signing';
import type { Gate } from '../types';
import { failedVerdict, gateUnavailable } from '../verdicts';
import { webhookGateSchema, type WebhookGateConfig } from './schema';

/** WebhookGateRequest is the JSON body the gate POSTs to the user's service. */
export interface WebhookGateRequest {
  action: 'gate';
  releaseId: string;
  /** The gate's name in the pipeline, so one service can answer several gates. */
  gate: string;
  env: string;
  model: string;
  version: string;
  artifact: { uri: string; sha256: string };
  metrics: Record<string, number>;
  codeCommit?: string;
  dataSnapshot?: string;
  promptVersion?: string;
  /** The version live in the environment now, to compare against; null when nothing is. */
  live: { version: string; metrics: Record<string, number> } | null;
}

/** webhookVerdictSchema is the answer the service gives: a verdict, optional per-metric checks, optional reason. */
export const webhookVerdictSchema = z.object({
  passed: z.boolean({ error: 'must be true or false' }),
  reason: z.string().max(2000).optional(),
  checks: z
    .array(
      z.object({
        metric: z.string().min(1).max(200),
        value: z.number().nullable().optional(),
        threshold: z.string().max(200).optional(),
        passed: z.boolean({ error: 'must be true or false' }),
        reason: z.string().max(2000).optional(),
      }),
    )
    .max(200)
    .optional(),
});

// Verdicts bigger than this are not verdicts.
const MAX_VERDICT_BYTES = 256 * 1024;

/** createWebhookGate builds the `webhook` gate; the signing secret is read, through the worker's sandbox, from the variable the config names. */
export function createWebhookGate(): Gate<WebhookGateConfig> {
  return {
    type: 'webhook',
    secretEnvFields: ['secretEnv'],
    configSchema: webhookGateSchema,
    async run(ctx, config) {
      const name = config.name ?? 'webhook';
      const fail = (error: string): GateResult => failedVerdict('webhook', name, error);
      // Refusals (a variable not allowed, a URL the worker may not call) throw: the gate activity records and audits them.
      const secret = ctx.sandbox.secret(config.secretEnv, 'secretEnv');
      if (!secret) return fail(`environment variable ${config.secretEnv} is not set on the worker; it must hold the secret this gate signs its requests to ${config.url} with`);
      const { candidate, live } = ctx;
      const request: WebhookGateRequest = {
        action: 'gate',
        releaseId: ctx.releaseId,
        gate: name,
        env: ctx.env,
        model: candidate.model,
        version: candidate.version,
        artifact: { uri: candidate.artifact.uri, sha256: candidate.artifact.sha256 },
        metrics: candidate.metrics ?? {},
        ...(candidate.codeCommit ? { codeCommit: candidate.codeCommit } : {}),
        ...(candidate.dataSnapshot ? { dataSnapshot: candidate.dataSnapshot } : {}),
        ...(candidate.promptVersion ? { promptVersion: candidate.promptVersion } : {}),
        live: live ? { version: live.version, metrics: live.metrics ?? {} } : null,
      };
      const body = JSON.stringify(request);
      let status: number;
      let text: string;
      try {
        const response = await outboundFetch(
          config.url,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json',
              'user-agent': 'slipway-webhook/1',
              [WEBHOOK_SIGNATURE_HEADER]: signWebhookRequest(secret, { method: 'POST', url: config.url, body }),
            },
            body,
            signal: AbortSignal.timeout(parseDuration(config.timeout)),
            field: 'url',
          },
          ctx.sandbox.outbound,
        );
        status = response.status;
        text = await readCapped(response, MAX_VERDICT_BYTES);
      } catch (err) {
        if (err instanceof OutboundRefusedError) throw err;
        if (isTimeout(err)) throw gateUnavailable(`${config.url} gave no verdict within ${config.timeout}`);
        throw gateUnavailable(`${config.url} is unreachable (${describeFetchError(err)})`);
      }
      if (isUnavailableStatus(status)) throw gateUnavailable(`${config.url} answered HTTP ${status}${snippet(text)}`);
      // Redirects are never followed: the signed request (and its secret-derived signature) goes only where the pipeline said.
      if (status >= 300 && status <= 399) return fail(`${config.url} answered HTTP ${status} (a redirect), which the gate does not follow; set url to the address that answers`);
      if (status < 200 || status > 299) return fail(`${config.url} answered HTTP ${status}${snippet(text)}`);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return fail(`${config.url} answered HTTP ${status} with a body that is not JSON${snippet(text)}`);
      }
      const verdict = webhookVerdictSchema.safeParse(value);
      if (!verdict.success) {
        const issues = verdict.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
        return fail(`${config.url} answered with something other than {passed, checks?, reason?} (${issues})`);
      }
      const { passed, reason, checks = [] } = verdict.data;
      const summary: GateCheck = {
        metric: 'verdict',
        value: passed ? 1 : 0,
        threshold: '== 1',
        passed,
        reason: reason ?? `${new URL(config.url).host} ${passed ? 'passed' : 'failed'} ${candidate.model}@${candidate.version}`,
      };
      // The service's verdict decides; its checks are the evidence shown beside it.
      return {
        type: 'webhook',
        name,
        passed,
        checks: [summary, ...checks.map((c) => ({ metric: c.metric, value: c.value ?? null, threshold: c.threshold ?? '', passed: c.passed, reason: c.reason ?? '' }))],
      };
    },
  };
}
