/** The `prompt-suite` gate's config: a file of prompt cases, the chat endpoint that answers them, and the pass rate required. */
import { z } from 'zod';
import { envVarNameSchema, httpUrlSchema, rateSchema } from '../../domain/fields';
import { defineGateConfig, gateTimeoutSchema } from '../fields';

/** promptSuiteGateSchema runs a file of prompt cases against an OpenAI-compatible chat endpoint and checks the pass rate. */
export const promptSuiteGateSchema = defineGateConfig('prompt-suite', {
  // YAML or JSON file of cases; relative paths are read from the repository root.
  suite: z
    .string({ error: 'must be the path of a YAML or JSON file of cases, such as "prompts/support.yaml"' })
    .min(1, 'must not be empty')
    .max(1024, 'is too long for a file path'),
  // Requests go to {baseUrl}/v1/chat/completions.
  baseUrl: httpUrlSchema,
  // Model name sent to the endpoint; "{model}" and "{version}" are replaced by the candidate's.
  model: z.string({ error: 'must be a model name such as "gpt-4o-mini" or "{version}"' }).min(1, 'must not be empty').max(256, 'is too long for a model name'),
  // Environment variable holding the API key (sent as a bearer token); absent for endpoints that need none.
  apiKeyEnv: envVarNameSchema.optional(),
  // Per case: a case with no answer in time and the gate activity asks again.
  timeout: gateTimeoutSchema.default('30s'),
  // Cases in flight at once, to stay inside the endpoint's rate limits.
  concurrency: z.number({ error: 'must be a whole number from 1 to 64' }).int('must be a whole number from 1 to 64').min(1, 'must be at least 1').max(64, 'must be at most 64').default(4),
  // Share of cases that must pass.
  minPassRate: rateSchema.default(1),
  temperature: z.number({ error: 'must be a number from 0 to 2' }).min(0, 'must be at least 0').max(2, 'must be at most 2').default(0),
  maxTokens: z.number({ error: 'must be a whole number >= 1' }).int('must be a whole number >= 1').min(1, 'must be at least 1').optional(),
});

/** PromptSuiteGateConfig is the config of a `prompt-suite` gate. */
export type PromptSuiteGateConfig = z.output<typeof promptSuiteGateSchema>;
