/**
 * What every CLI verb shares: connections opened lazily from the config,
 * one output convention (`--json` = one JSON document on stdout), and the
 * mapping from failures to the public exit codes.
 */
import { Client, Connection } from '@temporalio/client';
import { CommanderError } from 'commander';
import { MongoServerSelectionError, MongoNetworkError } from 'mongodb';
import { dataConverterFor } from '../codec';
import { loadConfig, type SlipwayConfig } from '../config';
import { explainConnectFailure, loadTemporalSettings, type TemporalSettings } from '../config/temporal';
import { REGISTRY_FAILURES } from '../domain/failures';
import { PipelineError } from '../domain/pipeline';
import { InvalidInputError, RegistryError } from '../registry/errors';
import { connectRegistryDb, RegistrySettingsError, type RegistryDb } from '../registry/db';
import { PolicyStore } from '../registry/policy';
import { Registry } from '../registry/registry';
import { SubscriptionStore } from '../registry/subscriptions';
import { ReleaseService } from '../client/releases';
import { ApiClient, ApiError } from './api-client';
import { DirectBackend, HttpBackend, type SlipwayBackend } from './backend';
import { CliError } from './errors';
import { ExitCode } from './exit-codes';
import { printErr, printJson, printOut } from './terminal';

export { CliError };

/** CliContext opens what a verb needs, once, and closes it at the end. */
export class CliContext {
  readonly config: SlipwayConfig;
  private db: RegistryDb | undefined;
  private connection: Connection | undefined;
  private temporalSettings: TemporalSettings | undefined;
  private chosen: SlipwayBackend | undefined;
  /** The API client when SLIPWAY_API_URL and a token are both given; verbs then act as the token's identity. */
  readonly api: ApiClient | undefined;

  /** `token` is the global --token option; it wins over SLIPWAY_TOKEN. */
  constructor(
    readonly json: boolean,
    token?: string,
  ) {
    try {
      this.config = loadConfig();
    } catch (err) {
      // loadConfig names the variable; a bad setting is bad input (exit 2), not a failed release (1).
      throw new CliError(ExitCode.badInput, (err as Error).message);
    }
    const bearer = token || this.config.apiToken;
    // An explicit --token with nowhere to send it would otherwise be ignored silently, acting unverified.
    if (token && !this.config.apiUrlGiven) throw new CliError(ExitCode.badInput, '--token needs SLIPWAY_API_URL (the Slipway API to send it to)');
    if (this.config.apiUrlGiven && bearer) this.api = new ApiClient(this.config.apiUrl, bearer);
  }

  /** backend is what verbs act through: the HTTP API with a token, else Temporal and MongoDB directly. */
  backend(): SlipwayBackend {
    this.chosen ??= this.api ? new HttpBackend(this.api) : new DirectBackend({ registry: () => this.registry(), releases: () => this.releases() });
    return this.chosen;
  }

  /**
   * requester is who a mutating verb acts as. Through the API that is the
   * token's identity, so `--as` is refused (undefined is returned); directly,
   * it is --as, SLIPWAY_USER or the OS user, and stderr says it is unverified.
   */
  requester(as: string | undefined): string | undefined {
    if (this.api) {
      if (as !== undefined) throw new CliError(ExitCode.badInput, '--as: not allowed through the API (SLIPWAY_API_URL with a token); the API acts as the token\'s identity');
      return undefined;
    }
    const user = as ?? this.config.user;
    // stderr, so --json stdout stays one document.
    printErr(`slipway: acting as ${user}, unverified (direct to Temporal and MongoDB); set SLIPWAY_API_URL and SLIPWAY_TOKEN to act as a verified identity`);
    return user;
  }

  /** registry connects to the registry database. */
  async registry(): Promise<Registry> {
    return new Registry((await this.registryDb()).db);
  }

  /** policy connects to the registry's pipelines and model bindings. */
  async policy(): Promise<PolicyStore> {
    return new PolicyStore((await this.registryDb()).db, { secretEnvAllow: this.config.secretEnvAllow });
  }

  /** subscriptions connects to the event subscriptions and their deliveries. */
  async subscriptions(): Promise<SubscriptionStore> {
    return new SubscriptionStore((await this.registryDb()).db);
  }

  /** directActor is who a direct-mode change is recorded as: the claimed user, marked unverified (no token vouches for it). */
  directActor(as: string | undefined): string {
    return `unverified:cli:${as ?? this.config.user}`;
  }

  /** temporal is where direct-mode verbs reach Temporal (config/temporal.ts), resolved on first use so verbs that never connect ignore a broken profile. */
  temporal(): TemporalSettings {
    if (!this.temporalSettings) {
      try {
        this.temporalSettings = loadTemporalSettings();
      } catch (err) {
        throw new CliError(ExitCode.badInput, (err as Error).message);
      }
    }
    return this.temporalSettings;
  }

  /** releases connects to Temporal and the registry for release verbs. */
  async releases(): Promise<ReleaseService> {
    const settings = this.temporal();
    const db = await this.registryDb();
    if (!this.connection) {
      try {
        this.connection = await Connection.connect({ address: settings.address, ...settings.transport, connectTimeout: 5_000 });
      } catch (err) {
        const reason = await explainConnectFailure(settings.address, settings.transport, err);
        throw new CliError(ExitCode.unreachable, `cannot reach Temporal at ${settings.address} (${settings.addressFrom}): ${reason}${settings.transport.tls ? '' : '. Is `slipway dev` running?'}`);
      }
    }
    const temporal = new Client({ connection: this.connection, namespace: settings.namespace, dataConverter: dataConverterFor(this.config.codecKeys, settings.namespace) });
    return new ReleaseService({ temporal, db: db.db, taskQueue: this.config.taskQueue, pipelinesDir: this.config.pipelinesDir, bootstrapFromFolder: true, secretEnvAllow: this.config.secretEnvAllow, publicUrl: this.config.publicUrl });
  }

  private async registryDb(): Promise<RegistryDb> {
    if (!this.db) {
      try {
        this.db = await connectRegistryDb(this.config.mongodbUri, { caFile: this.config.mongodbCaFile });
      } catch (err) {
        if (err instanceof RegistrySettingsError) throw new CliError(ExitCode.badInput, err.message);
        throw new CliError(ExitCode.unreachable, `${(err as Error).message}. Is \`slipway dev\` running?`);
      }
    }
    return this.db;
  }

  /** print writes the result: JSON on stdout with --json, else the human text. */
  print(value: unknown, human: () => string): void {
    if (this.json) printJson(value);
    else printOut(human());
  }

  /** close releases connections so the process can exit. */
  async close(): Promise<void> {
    await Promise.allSettled([this.db?.close(), this.connection?.close()]);
  }
}

/** exitCodeFor maps any failure to the public exit codes. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : ExitCode.badInput;
  if (err instanceof RegistryError) return ExitCode[REGISTRY_FAILURES[err.code].exit];
  if (err instanceof PipelineError) return ExitCode.badInput;
  if (err instanceof MongoServerSelectionError || err instanceof MongoNetworkError) return ExitCode.unreachable;
  const name = (err as { name?: string })?.name;
  if (name === 'TransportError' || name === 'ServiceError' && /UNAVAILABLE|connect/i.test(String((err as Error).message))) return ExitCode.unreachable;
  return ExitCode.releaseFailed;
}

/** errorBody is the JSON shape of a failure under --json. */
export function errorBody(err: unknown): { error: { code: number; type: string; message: string; problems?: unknown } } {
  const message = err instanceof Error ? err.message : String(err);
  const problems = err instanceof InvalidInputError ? err.problems : err instanceof PipelineError ? err.issues : err instanceof ApiError ? err.problems : undefined;
  return {
    error: {
      code: exitCodeFor(err),
      type: err instanceof Error ? err.constructor.name : 'Error',
      message,
      ...(problems ? { problems } : {}),
    },
  };
}
