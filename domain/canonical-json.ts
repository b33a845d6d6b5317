/**
 * Canonical JSON: object keys sorted, so equal values always give equal text.
 * Pipeline hashes, audit event hashes and signed decisions all hash or sign
 * this text. Pure, so workflow code may use it.
 */
/** canonicalJson writes JSON with object keys sorted, so equal values always give equal text (and hashes). */
export function canonicalJson(value: unknown): string {
  const text = writeCanonical(value, new Set());
  if (text === undefined) throw new TypeError(`canonicalJson cannot encode a value of type ${typeof value}`);
  return text;
}

// Follows JSON.stringify's rules (toJSON, undefined dropped in objects and null in arrays, non-finite numbers as null).
function writeCanonical(input: unknown, ancestors: Set<object>): string | undefined {
  let value = input;
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson cannot encode a bigint');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError('canonicalJson cannot encode a value that contains itself');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item: unknown) => writeCanonical(item, ancestors) ?? 'null').join(',')}]`;
    }
    const parts: string[] = [];
    // Default sort compares UTF-16 code units: the same order on every machine and locale.
    for (const key of Object.keys(object).sort()) {
      const text = writeCanonical((object as Record<string, unknown>)[key], ancestors);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}
