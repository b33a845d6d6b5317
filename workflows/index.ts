/** Every workflow the Slipway worker registers (this file is the worker's workflowsPath). */
export { stackCheckWorkflow } from './stack-check';
export { envLockWorkflow } from './env-lock';
export { envQueueWorkflow } from './env-queue';
export { releaseWorkflow } from './release/workflow';
export { rollbackWorkflow } from './rollback';
