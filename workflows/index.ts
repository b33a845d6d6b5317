/** Every workflow the Slipway worker registers (this file is the worker's workflowsPath). */
export { stackCheckWorkflow } from './stack-check';
