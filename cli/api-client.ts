/**
 * The CLI's HTTP client for the Slipway API: one bearer token, a timeout on
 * every call, and the API's answers mapped to the CLI's exit codes
 * (400/409 → 2, 401/403 → 2 "not allowed", 404 → 3, 429/5xx/unreachable → 5).
 */
import { CliError } from './errors';
import { ExitCode } from './exit-codes';

/** API_TIMEOUT_MS bounds each call; the API's own budget per request is 15 s. */
export const API_TIMEOUT_MS = 30_000;

/** ApiProblem is one `{field, reason}` the API names in a 400 answer. */
export interface ApiProblem {
  field: string;
  reason: string;
}

/** ApiError is a refused or failed API call, carrying the API's status and problems for `--json`. */
export class ApiError extends CliError {
  constructor(
    exitCode: number,
    message: string,
    readonly status: number,
    readonly problems?: ApiProblem[],
  ) {
    super(exitCode, message, problems);
  }
}

/** ApiRequest is one call: query values that are undefined are left out. */
export interface ApiRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Turn these keys' ISO strings back into Dates, so registry answers have the same types as in direct mode. */
  dateKeys?: readonly string[];
}

/** REGISTRY_DATE_KEYS are the Date fields of registry documents (versions, live pointers, deployments). */
export const REGISTRY_DATE_KEYS = ['registeredAt', 'startedAt', 'endedAt', 'since', 'createdAt', 'updatedAt', 'firstSeenAt'] as const;

/** ApiClient calls the Slipway API as the token's identity. */
export class ApiClient {
  private readonly base: URL;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = API_TIMEOUT_MS,
  ) {
    try {
      this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    } catch {
      throw new CliError(ExitCode.badInput, `SLIPWAY_API_URL "${baseUrl}" is not a URL; expected e.g. https://slipway.example.com`);
    }
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') {
      throw new CliError(ExitCode.badInput, `SLIPWAY_API_URL must be http:// or https://, got "${this.base.protocol}"`);
    }
  }

  /** url is where the API is, for messages. */
  get url(): string {
    return this.base.toString().replace(/\/$/, '');
  }

  /** get reads a resource. */
  get<T>(path: string, req: ApiRequest = {}): Promise<T> {
    return this.request<T>('GET', path, req);
  }

  /** post sends a JSON body. */
  post<T>(path: string, body: unknown, req: Omit<ApiRequest, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...req, body });
  }

  /** request makes one call and returns the parsed JSON body, or throws an ApiError with the exit code the status maps to. */
  async request<T>(method: string, path: string, req: ApiRequest = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(req.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new ApiError(ExitCode.unreachable, `cannot reach the Slipway API at ${this.url} (SLIPWAY_API_URL): ${why}`, 0);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text, dateReviver(req.dateKeys ?? [])) : undefined;
    } catch {
      if (res.ok) throw new ApiError(ExitCode.unreachable, `the Slipway API at ${this.url} answered ${method} ${url.pathname} with something that is not JSON (is SLIPWAY_API_URL the API?)`, res.status);
    }
    if (res.ok) return body as T;
    throw errorFor(res.status, method, url.pathname, body);
  }
}

function errorFor(status: number, method: string, path: string, body: unknown): ApiError {
  const error = (body as { error?: { message?: string; problems?: ApiProblem[] } } | undefined)?.error;
  const message = error?.message ?? `${method} ${path} answered HTTP ${status}`;
  if (status === 401) return new ApiError(ExitCode.badInput, `not allowed: ${message} (check SLIPWAY_TOKEN or --token)`, status);
  // DESIGN.md's exit codes have no "forbidden": a refusal is bad input for this caller.
  if (status === 403) return new ApiError(ExitCode.badInput, `not allowed: ${message}`, status);
  if (status === 404) return new ApiError(ExitCode.notFound, message, status);
  // Rate limits and server trouble are both "try again later": the same code as an unreachable service.
  if (status === 429 || status >= 500) return new ApiError(ExitCode.unreachable, `the Slipway API could not answer (HTTP ${status}): ${message}`, status);
  return new ApiError(ExitCode.badInput, message, status, error?.problems);
}

function dateReviver(keys: readonly string[]): ((key: string, value: unknown) => unknown) | undefined {
  if (keys.length === 0) return undefined;
  const wanted = new Set(keys);
  return (key, value) => (wanted.has(key) && typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? new Date(value) : value);
}
