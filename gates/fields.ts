/**
 * Config fields gate types share: the `type` and `name` every gate has,
 * dataset paths and columns (the computing gates), and the timeout of the
 * HTTP-calling gates. Pure, like the schemas built from them.
 */
import { z } from 'zod';
import { METRIC_NAME_PATTERN, SECOND_MS, SHORT_NAME_PATTERN, durationSchema, strictObject } from '../domain/fields';

const gateNameSchema = z
  .string()
  .regex(SHORT_NAME_PATTERN, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit");

/** defineGateConfig builds the strict config schema of one gate type: `type`, an optional `name`, and its own fields. */
export function defineGateConfig<T extends string, S extends z.core.$ZodLooseShape>(type: T, shape: S) {
  return strictObject({ type: z.literal(type), name: gateNameSchema.optional(), ...shape });
}

/** datasetPathSchema is a CSV file a computing gate reads; relative paths are read from the repository root, and only inside the worker's SLIPWAY_FILE_ROOTS. */
export const datasetPathSchema = z
  .string({ error: 'must be the path of a CSV file such as "models/fraud/data/holdout.csv"' })
  .min(1, 'must not be empty')
  .max(1024, 'is too long for a file path');

/** columnNameSchema is one CSV column, by name. */
export const columnNameSchema = z.string({ error: 'must be a column name' }).regex(METRIC_NAME_PATTERN, "must be a column name: a letter, then letters, digits or '_'");

/** featureColumnsSchema lists model input columns in order; absent means the model's manifest.json, else every column not otherwise named. */
export const featureColumnsSchema = z.array(columnNameSchema, { error: 'must be a list of column names' }).min(1, 'must list at least one column').max(1000, 'lists more than 1000 columns');

/** scoreThresholdSchema is the score at or above which a prediction counts as positive. */
export const scoreThresholdSchema = z.number({ error: 'must be a number between 0 and 1' }).gt(0, 'must be greater than 0').lt(1, 'must be less than 1');

/** gateTimeoutSchema bounds the timeouts of the HTTP-calling gates; the gate activity itself gets 10 minutes. */
export const gateTimeoutSchema = durationSchema({ min: 1, max: 5 * 60 * SECOND_MS });
