/**
 * Names checked at the registry's edge, so no object or `$`-string ever
 * reaches a query.
 */
import type { z } from 'zod';
import { InvalidInputError } from './errors';

/** checkName validates a name (model, env, version, alias), or throws InvalidInputError naming the field. */
export function checkName(schema: z.ZodType<string>, field: string, value: unknown): string {
  const result = schema.safeParse(value);
  if (!result.success) {
    const shown = typeof value === 'string' ? `"${value.slice(0, 80)}"` : `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
    throw new InvalidInputError([{ field, reason: `${shown} is not allowed: ${result.error.issues[0]?.message ?? 'invalid'}` }]);
  }
  return result.data;
}
