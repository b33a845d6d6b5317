/** Every workflow the Slipway worker registers (this file is the worker's workflowsPath). */
export { stackCheckWorkflow } from './stack-check';
export { envLockWorkflow } from '../locks/legacy-lock.workflow';
export { envQueueWorkflow } from '../locks/queue.workflow';
export { releaseWorkflow } from './release/workflow';
export { rollbackWorkflow } from './rollback';
export { eventDeliveryWorkflow } from './events/delivery';
export { approvalReminderWorkflow } from './events/reminder';
