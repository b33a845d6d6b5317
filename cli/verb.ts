/**
 * verb wraps a command's action: one CliContext, errors mapped to exit codes,
 * `--json` errors as one JSON document on stdout, connections closed.
 */
import type { Command } from 'commander';
import { CliContext, errorBody, exitCodeFor } from './context';
import { printErr, printJson } from './terminal';

/** verb turns an async body into a commander action with Slipway's error and exit-code handling. */
export function verb<A extends unknown[]>(
  body: (ctx: CliContext, ...args: A) => Promise<number | void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const globals = command.optsWithGlobals<{ json?: boolean; token?: string }>();
    const json = Boolean(globals.json);
    // Built inside the try: a bad configuration is an error like any other (exit 2, JSON under --json).
    let ctx: CliContext | undefined;
    try {
      ctx = new CliContext(json, globals.token);
      const code = await body(ctx, ...(args.slice(0, -1) as A));
      process.exitCode = code ?? 0;
    } catch (err) {
      const code = exitCodeFor(err);
      if (json) printJson(errorBody(err));
      printErr(`slipway: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = code;
    } finally {
      await ctx?.close();
    }
  };
}
