/** The `prompt-suite` gate: prompt cases against an OpenAI-compatible chat endpoint, and the share that passes. */
import { defineGate } from '../types';
import { promptSuiteGateSchema } from './schema';

/** promptSuiteGate registers the `prompt-suite` gate: its config schema now, its implementation when it first runs. */
export const promptSuiteGate = defineGate({
  type: 'prompt-suite',
  secretEnvFields: ['apiKeyEnv'],
  configSchema: promptSuiteGateSchema,
  load: () => (require('./prompt-suite') as typeof import('./prompt-suite')).createPromptSuiteGate().run,
});
