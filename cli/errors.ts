/** CliError lives apart from context.ts so the API client can throw it without an import cycle. */

/** CliError carries an exit code and a message meant for people. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}
