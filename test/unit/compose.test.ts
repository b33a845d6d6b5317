/**
 * docker-compose.yml cannot be started here (no Docker engine), so CI checks
 * it statically: it must be valid against the Compose Specification's JSON
 * schema after Compose-style variable interpolation, pin every image to an
 * exact version, point its depends_on and bind mounts at things that exist,
 * and the Dockerfile's base images must be pinned too. Each check is also run
 * against a deliberately broken copy, to prove it can fail.
 *
 * test/fixtures/compose-spec.json is the Compose Specification JSON schema
 * (draft 2020-12), vendored byte for byte from the Go module
 * github.com/compose-spec/compose-go/v2 at v2.16.2, file schema/compose-spec.json
 * (the schema Docker Compose itself validates with; fetched from the Go module
 * proxy with `go mod download github.com/compose-spec/compose-go/v2@v2.16.2`).
 * Copyright 2020 The Compose Specification Authors, licensed under the Apache
 * License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0). To update
 * it, download a newer version the same way, copy the file, and change
 * SCHEMA_SHA256 below.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import YAML from 'yaml';
import { Signer } from '../../lib/signing';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const SCHEMA_FILE = path.join(ROOT, 'test', 'fixtures', 'compose-spec.json');
const SCHEMA_SHA256 = 'f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff';

type Doc = Record<string, unknown>;
type Service = Record<string, unknown>;

// ---------------------------------------------------------------- interpolation

/**
 * Compose's variable interpolation: $$ is a literal $, ${VAR}, $VAR,
 * ${VAR:-default}, ${VAR-default}, ${VAR:+replacement}, ${VAR+replacement},
 * ${VAR:?error}, ${VAR?error}; defaults and replacements may nest.
 */
function interpolate(text: string, env: Record<string, string | undefined>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== '$') {
      out += ch;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '{') {
      let depth = 1;
      let j = i + 2;
      for (; j < text.length && depth > 0; j++) {
        if (text[j] === '{') depth++;
        else if (text[j] === '}') depth--;
      }
      if (depth !== 0) throw new Error(`unclosed \${ in "${text}"`);
      out += substitute(text.slice(i + 2, j - 1), env);
      i = j - 1;
    } else if (next !== undefined && /[A-Za-z_]/.test(next)) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))![0];
      out += env[name] ?? '';
      i += name.length;
    } else {
      out += '$';
    }
  }
  return out;
}

function substitute(expr: string, env: Record<string, string | undefined>): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([\s\S]*))?$/.exec(expr);
  if (!match) throw new Error(`invalid interpolation "\${${expr}}"`);
  const [, name, op, arg = ''] = match;
  const value = env[name!];
  const set = value !== undefined;
  const nonEmpty = set && value !== '';
  switch (op) {
    case undefined:
      return value ?? '';
    case ':-':
      return nonEmpty ? value : interpolate(arg, env);
    case '-':
      return set ? value : interpolate(arg, env);
    case ':+':
      return nonEmpty ? interpolate(arg, env) : '';
    case '+':
      return set ? interpolate(arg, env) : '';
    case ':?':
    case '?':
      if (op === ':?' ? nonEmpty : set) return value!;
      throw new Error(`required variable ${name} is missing: ${arg}`);
    default:
      throw new Error(`invalid interpolation "\${${expr}}"`);
  }
}

/** interpolateValues applies interpolation to every string value (not keys), as Compose does. */
function interpolateValues(value: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateValues(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateValues(v, env)]));
  }
  return value;
}

/** The variables the stack refuses to start without (no shared default key may exist). */
const TEST_KEY = Signer.generate();
const TEST_KEY_FILE = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-compose-')), 'api-signing-key.pem');
fs.writeFileSync(TEST_KEY_FILE, TEST_KEY.pem(), { mode: 0o600 });
const TEST_TOKENS_FILE = path.join(path.dirname(TEST_KEY_FILE), 'api-tokens.yaml');
fs.writeFileSync(TEST_TOKENS_FILE, 'tokens: []\n');
const REQUIRED_ENV = {
  SLIPWAY_API_SIGNING_KEY_FILE: TEST_KEY_FILE,
  SLIPWAY_API_PUBLIC_KEYS: TEST_KEY.publicKey,
  SLIPWAY_API_TOKENS_FILE: TEST_TOKENS_FILE,
  SLIPWAY_MONGO_ROOT_PASSWORD: 'root-pw-for-the-test',
  SLIPWAY_MONGO_PASSWORD: 'slipway-pw-for-the-test',
  TEMPORAL_DB_PASSWORD: 'temporal-pw-for-the-test',
};

/** loadCompose parses a compose file the way Compose does: YAML merge keys, then interpolation (with the required variables unless `bare`). */
function loadCompose(text: string, env: Record<string, string | undefined> = {}, bare = false): Doc {
  const parsed: unknown = YAML.parse(text, { merge: true });
  assert.ok(parsed && typeof parsed === 'object' && !Array.isArray(parsed), 'the compose file must be a YAML mapping');
  return interpolateValues(parsed, bare ? env : { ...REQUIRED_ENV, ...env }) as Doc;
}

// ---------------------------------------------------------------- checks

const ajv = new Ajv2020({ strict: false, allErrors: true });
const validateSchema = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as object);

function describeError(e: ErrorObject): string {
  return `${e.instancePath || '(root)'} ${e.message ?? 'invalid'} (${e.keyword} ${JSON.stringify(e.params)})`;
}

/** schemaProblems lists where the document breaks the Compose Specification. */
function schemaProblems(doc: Doc): string[] {
  return validateSchema(doc) ? [] : (validateSchema.errors ?? []).map(describeError);
}

/**
 * imageProblem says why an image reference is not pinned to an exact version,
 * or returns undefined. A digest (@sha256:…) pins; otherwise the tag must be
 * a full version (major.minor.patch, optionally v-prefixed and suffixed, e.g.
 * 1.29.1-tctl-1.18.4-cli-1.5.0); the few projects whose releases have two
 * numbers (PostgreSQL 16.4) may use major.minor.
 */
function imageProblem(ref: string): string | undefined {
  if (/@sha256:[a-f0-9]{64}$/.test(ref)) return undefined;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  if (colon < 0) return `${ref} has no tag (that means :latest)`;
  const repo = ref.slice(0, colon);
  const tag = ref.slice(colon + 1);
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) return `${ref} has an invalid tag`;
  if (/^latest$|^(stable|edge|main|master|nightly|dev)$/i.test(tag)) return `${ref} uses a moving tag (${tag})`;
  const name = repo.slice(lastSlash + 1);
  const twoPartVersions = TWO_PART_VERSIONED.has(name);
  const exact = twoPartVersions ? /^v?\d+\.\d+(\.\d+)?([-.+][\w.-]+)?$/ : /^v?\d+\.\d+\.\d+([-.+][\w.-]+)?$/;
  if (!exact.test(tag)) return `${ref} is not pinned to an exact version (${twoPartVersions ? 'major.minor' : 'major.minor.patch'})`;
  return undefined;
}

/** Images whose upstream release numbers have two parts, so major.minor is exact. */
const TWO_PART_VERSIONED = new Set(['postgres']);

function services(doc: Doc): [string, Service][] {
  return Object.entries((doc.services ?? {}) as Record<string, Service>);
}

/** pinProblems lists every service whose image is not pinned; a service that builds may name its local image. */
function pinProblems(doc: Doc): string[] {
  const problems: string[] = [];
  for (const [name, svc] of services(doc)) {
    const image = svc.image;
    if (svc.build !== undefined) {
      if (typeof image === 'string' && (!image.includes(':') || /:latest$/.test(image))) {
        problems.push(`${name}: builds its image but tags it ${image} (give the local image an explicit, non-latest tag)`);
      }
      continue;
    }
    if (typeof image !== 'string' || image === '') {
      problems.push(`${name}: neither build nor image`);
      continue;
    }
    const problem = imageProblem(image);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  return problems;
}

const GO_DURATION = /^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$/;

/** wiringProblems finds what the schema cannot: unknown depends_on targets, waits on services without healthchecks, bad durations, missing bind-mount sources. */
function wiringProblems(doc: Doc): string[] {
  const problems: string[] = [];
  const all = new Map(services(doc));
  for (const [name, svc] of all) {
    const deps = svc.depends_on;
    const entries: [string, { condition?: string }][] = Array.isArray(deps)
      ? deps.map((d) => [String(d), {}])
      : Object.entries((deps ?? {}) as Record<string, { condition?: string }>);
    for (const [dep, spec] of entries) {
      const target = all.get(dep);
      if (!target) {
        problems.push(`${name}: depends_on unknown service ${dep}`);
        continue;
      }
      const hc = target.healthcheck as { test?: unknown; disable?: boolean } | undefined;
      if (spec.condition === 'service_healthy' && (!hc?.test || hc.disable)) problems.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      if (spec.condition === 'service_completed_successfully' && target.restart !== 'no' && target.restart !== undefined) {
        problems.push(`${name}: waits for ${dep} to complete, but ${dep} restarts (${String(target.restart)})`);
      }
    }
    const hc = (svc.healthcheck ?? {}) as Record<string, unknown>;
    for (const [field, value] of [...['interval', 'timeout', 'start_period', 'start_interval'].map((f) => [`healthcheck.${f}`, hc[f]] as const), ['stop_grace_period', svc.stop_grace_period] as const]) {
      if (value !== undefined && !(typeof value === 'string' && GO_DURATION.test(value))) problems.push(`${name}: ${field} "${String(value)}" is not a duration like 10s or 1m30s`);
    }
    for (const volume of (svc.volumes ?? []) as unknown[]) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume as { source?: string; type?: string }).type === 'bind' ? (volume as { source?: string }).source : undefined;
      if (source && (source.startsWith('./') || source.startsWith('../')) && !fs.existsSync(path.resolve(ROOT, source))) {
        problems.push(`${name}: bind-mount source ${source} does not exist (Compose would create an empty directory)`);
      }
    }
    const build = svc.build;
    const context = typeof build === 'string' ? build : (build as { context?: string } | undefined)?.context;
    if (context !== undefined) {
      const dockerfile = (typeof build === 'object' && (build as { dockerfile?: string }).dockerfile) || 'Dockerfile';
      if (!fs.existsSync(path.resolve(ROOT, context, dockerfile))) problems.push(`${name}: build context ${context} has no ${dockerfile}`);
    }
  }
  return problems;
}

/** dockerfileProblems checks that every FROM names a pinned base image (or an earlier stage). */
function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const stages = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    const [, ref, alias] = m;
    if (stages.has(ref!.toLowerCase()) || ref === 'scratch') {
      // an earlier stage, or the empty image
    } else if (ref!.includes('$')) {
      problems.push(`FROM ${ref}: a variable base image cannot be checked; name the pinned image`);
    } else if (!/@sha256:[a-f0-9]{64}$/.test(ref!) && !/:v?\d+\.\d+[\w.-]*$/.test(ref!)) {
      problems.push(`FROM ${ref}: not pinned to a major.minor version or digest`);
    } else if (/:latest$/.test(ref!)) {
      problems.push(`FROM ${ref}: uses :latest`);
    }
    if (alias) stages.add(alias.toLowerCase());
  }
  if (stages.size === 0 && problems.length === 0 && !/^\s*FROM\s/im.test(text)) problems.push('no FROM line');
  return problems;
}

// ---------------------------------------------------------------- tests

const composeText = fs.readFileSync(COMPOSE_FILE, 'utf8');

/** brokenCopy edits the parsed compose file, so broken variants start from the real one. */
function brokenCopy(edit: (doc: Doc) => void): Doc {
  const doc = structuredClone(loadCompose(composeText));
  edit(doc);
  return doc;
}

function service(doc: Doc, name: string): Service {
  const svc = (doc.services as Record<string, Service>)[name];
  assert.ok(svc, `docker-compose.yml has no ${name} service`);
  return svc;
}

describe('the vendored Compose Specification schema', () => {
  it('is the file downloaded from compose-go v2.16.2, unedited', () => {
    const actual = createHash('sha256').update(fs.readFileSync(SCHEMA_FILE)).digest('hex');
    assert.equal(actual, SCHEMA_SHA256, 'test/fixtures/compose-spec.json changed: re-vendor it from compose-go and update SCHEMA_SHA256');
  });
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification with only the required variables set', () => {
    assert.deepEqual(schemaProblems(loadCompose(composeText)), []);
  });

  it('refuses to start without the API signing key and its public half (no shared default key)', () => {
    const { SLIPWAY_API_PUBLIC_KEYS: _public, SLIPWAY_API_SIGNING_KEY_FILE: _key, ...others } = REQUIRED_ENV;
    assert.throws(() => loadCompose(composeText, others, true), /required variable SLIPWAY_API_PUBLIC_KEYS is missing|required variable SLIPWAY_API_SIGNING_KEY_FILE is missing/);
    assert.throws(() => loadCompose(composeText, { ...others, SLIPWAY_API_PUBLIC_KEYS: 'x' }, true), /SLIPWAY_API_SIGNING_KEY_FILE/);
  });

  for (const name of ['SLIPWAY_API_TOKENS_FILE', 'SLIPWAY_MONGO_ROOT_PASSWORD', 'SLIPWAY_MONGO_PASSWORD', 'TEMPORAL_DB_PASSWORD'] as const) {
    it(`refuses to start without ${name}, saying what to set (no default secret, no example tokens)`, () => {
      const { [name]: _left, ...rest } = REQUIRED_ENV;
      assert.throws(() => loadCompose(composeText, rest, true), new RegExp(`required variable ${name} is missing: set ${name} `));
      // An empty value is missing too (`:?`).
      assert.throws(() => loadCompose(composeText, { ...rest, [name]: '' }, true), new RegExp(`required variable ${name} is missing`));
    });
  }

  it('gives no password, signing key or tokens file a default value anywhere', () => {
    // SLIPWAY_SECRET_ENV_ALLOW lists variable names, not a secret: empty (no secrets allowed) is its safe default.
    const defaults = [...composeText.matchAll(/\$\{([A-Z0-9_]+):?[-+]([^}]*)\}/g)].filter(([, name]) => /PASSWORD|PWD|TOKENS_FILE|SIGNING_KEY|SECRET(?!_ENV_ALLOW$)/.test(name!));
    assert.deepEqual(defaults.map(([whole]) => whole), []);
  });

  it('runs MongoDB with authentication: a root user, Slipway\'s own user, a members\' key file, and Slipway connecting with its credentials', () => {
    const doc = loadCompose(composeText);
    const mongo = service(doc, 'mongo');
    const env = mongo.environment as Record<string, string>;
    assert.equal(env.MONGO_INITDB_ROOT_USERNAME, 'root');
    assert.equal(env.MONGO_INITDB_ROOT_PASSWORD, REQUIRED_ENV.SLIPWAY_MONGO_ROOT_PASSWORD);
    assert.equal(env.SLIPWAY_MONGO_PASSWORD, REQUIRED_ENV.SLIPWAY_MONGO_PASSWORD);
    assert.match((mongo.command as string[]).join(' '), /--keyFile \/data\/configdb\/keyfile/);
    assert.match((mongo.entrypoint as string[]).join(' '), /keyfile.*exec docker-entrypoint\.sh "\$@"/);
    assert.ok((mongo.volumes as string[]).includes('./deploy/mongo/create-slipway-user.sh:/docker-entrypoint-initdb.d/create-slipway-user.sh:ro'));
    const init = fs.readFileSync(path.join(ROOT, 'deploy', 'mongo', 'create-slipway-user.sh'), 'utf8');
    assert.match(init, /user: "slipway", pwd: process\.env\.SLIPWAY_MONGO_PASSWORD, roles: \[\{ role: "readWrite", db: "slipway" \}\]/);
    // The healthcheck authenticates from the container's environment; the password is not written into the file.
    const healthcheck = ((mongo.healthcheck as { test: string[] }).test).join(' ');
    assert.match(healthcheck, /--username root --password "\$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin/);
    for (const name of ['slipway-worker', 'slipway-api']) {
      const uri = (service(doc, name).environment as Record<string, string>).SLIPWAY_MONGODB_URI!;
      assert.equal(uri, `mongodb://slipway:${REQUIRED_ENV.SLIPWAY_MONGO_PASSWORD}@mongo:27017/slipway?replicaSet=rs0&authSource=slipway`);
    }
  });

  it('mounts the operator\'s tokens file, never the example one', () => {
    const volumes = service(loadCompose(composeText), 'slipway-api').volumes as string[];
    assert.ok(volumes.includes(`${TEST_TOKENS_FILE}:/etc/slipway/api-tokens.yaml:ro`), volumes.join('\n'));
    assert.doesNotMatch(composeText, /api-tokens\.example\.yaml/);
  });

  it('is valid against the Compose Specification with every variable set', () => {
    const env = {
      SLIPWAY_CODEC_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      SLIPWAY_BIND_ADDRESS: '0.0.0.0',
      SLIPWAY_MAX_CONCURRENT_WORKFLOW_TASKS: '50',
      SLIPWAY_MAX_CACHED_WORKFLOWS: '500',
      SLIPWAY_MAX_CONCURRENT_ACTIVITIES: '100',
      SLIPWAY_PIPELINES_DIR: './examples/pipelines',
    };
    const doc = loadCompose(composeText, env);
    assert.deepEqual(schemaProblems(doc), []);
    const ui = service(doc, 'temporal-ui').environment as Record<string, string>;
    assert.equal(ui.TEMPORAL_CODEC_ENDPOINT, 'http://localhost:8787/codec', 'with codec keys set, the Web UI decodes through the API');
    assert.equal((service(loadCompose(composeText), 'temporal-ui').environment as Record<string, string>).TEMPORAL_CODEC_ENDPOINT, '', 'without codec keys, no codec endpoint');
  });

  it('pins every image to an exact version; services that build need no pinned image', () => {
    const doc = loadCompose(composeText);
    assert.deepEqual(pinProblems(doc), []);
    const built = services(doc).filter(([, svc]) => svc.build !== undefined).map(([name]) => name);
    assert.deepEqual(built.sort(), ['slipway-api', 'slipway-worker']);
  });

  it('waits only on services that can say they are ready, and mounts files that exist', () => {
    assert.deepEqual(wiringProblems(loadCompose(composeText)), []);
  });

  it('runs the stack the issue asks for', () => {
    const doc = loadCompose(composeText);
    for (const name of ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'mongo', 'slipway-worker', 'slipway-api', 'otel-collector', 'jaeger', 'prometheus']) service(doc, name);
    const mongo = service(doc, 'mongo');
    assert.ok((mongo.command as string[]).join(' ').includes('--replSet rs0'), 'MongoDB runs as replica set rs0');
    for (const name of ['slipway-worker', 'slipway-api']) {
      const env = service(doc, name).environment as Record<string, string>;
      assert.match(env.SLIPWAY_MONGODB_URI!, /[?&]replicaSet=rs0(&|$)/, `${name} connects to the replica set`);
      assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');
      assert.match(env.OTEL_EXPORTER_OTLP_ENDPOINT!, /^http:\/\/otel-collector:4318$/);
      const deps = service(doc, name).depends_on as Record<string, { condition: string }>;
      assert.equal(deps['temporal-admin-tools']?.condition, 'service_completed_successfully', `${name} starts after the search attributes exist`);
    }
    const temporalEnv = service(doc, 'temporal').environment as Record<string, string>;
    assert.equal(temporalEnv.DB, 'postgres12');
    const dynamicConfig = YAML.parse(fs.readFileSync(path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml'), 'utf8')) as Record<string, { value: unknown }[]>;
    assert.equal(dynamicConfig['frontend.enableUpdateWorkflowExecution']?.[0]?.value, true);
    const setup = fs.readFileSync(path.join(ROOT, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
    for (const attribute of ['SlipwayModel', 'SlipwayVersion', 'SlipwayStage', 'SlipwayStatus']) assert.ok(setup.includes(attribute), `setup-namespace.sh registers ${attribute}`);
  });

  it('keeps the search attributes the setup script registers in step with the workflows', async () => {
    const { SEARCH_ATTRIBUTES } = await import('../../domain/search-attributes');
    const setup = fs.readFileSync(path.join(ROOT, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
    const listed = /^attributes="([^"]*)"/m.exec(setup)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    assert.deepEqual(listed.sort(), Object.keys(SEARCH_ATTRIBUTES).sort());
    for (const type of Object.values(SEARCH_ATTRIBUTES)) assert.equal(type, 'Keyword', 'the setup script registers every attribute as Keyword');
  });
});

describe('the Dockerfile', () => {
  it('builds from pinned base images', () => {
    const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.deepEqual(dockerfileProblems(text), []);
    assert.match(text, /^USER\s+(?!root\b|0\b)\S+/m, 'the image runs as a non-root user');
  });

  it('catches an unpinned base image', () => {
    assert.equal(dockerfileProblems('FROM node:latest AS deps\nFROM deps\n').length, 1);
    assert.equal(dockerfileProblems('FROM node\n').length, 1);
    assert.equal(dockerfileProblems('FROM node:20\n').length, 1);
    assert.deepEqual(dockerfileProblems('FROM node:20.19-bookworm-slim AS deps\nFROM deps AS runtime\n'), []);
  });
});

describe('the checks fail on a broken compose file', () => {
  it('an unknown top-level key', () => {
    const problems = schemaProblems(brokenCopy((doc) => (doc.servics = {})));
    assert.ok(problems.some((p) => p.includes('additionalProperties') && p.includes('servics')), problems.join('\n'));
  });

  it('an unknown service key', () => {
    const problems = schemaProblems(brokenCopy((doc) => (service(doc, 'mongo').healthckeck = { test: ['CMD', 'true'] })));
    assert.ok(problems.some((p) => p.includes('healthckeck')), problems.join('\n'));
  });

  it('a depends_on condition Compose does not know', () => {
    const problems = schemaProblems(brokenCopy((doc) => (service(doc, 'slipway-api').depends_on = { mongo: { condition: 'service_ready' } })));
    assert.ok(problems.some((p) => p.startsWith('/services/slipway-api/depends_on')), problems.join('\n'));
  });

  it('a port that is neither a number, a string nor a port mapping', () => {
    const problems = schemaProblems(brokenCopy((doc) => (service(doc, 'slipway-api').ports = [true])));
    assert.ok(problems.some((p) => p.startsWith('/services/slipway-api/ports/0 ')), problems.join('\n'));
  });

  it('a YAML merge key left unmerged', () => {
    const unmerged = interpolateValues(YAML.parse(composeText), REQUIRED_ENV) as Doc; // without { merge: true }
    assert.ok(schemaProblems(unmerged).some((p) => p.includes('environment')), 'an environment with a literal "<<" key is invalid');
  });

  for (const [label, image] of [
    ['image: foo:latest', 'postgres:latest'],
    ['an image without a tag', 'postgres'],
    ['a bare major version', 'mongo:7'],
    ['a major.minor tag of a major.minor.patch project', 'mongo:7.0'],
    ['a moving named tag', 'temporalio/ui:stable'],
    ['a registry with a port and no tag', 'registry.example.com:5000/temporalio/ui'],
  ] as const) {
    it(label, () => {
      const problems = pinProblems(brokenCopy((doc) => (service(doc, 'temporal-ui').image = image)));
      assert.equal(problems.length, 1, `expected one problem for ${image}, got: ${problems.join('; ')}`);
      assert.match(problems[0]!, /^temporal-ui: /);
    });
  }

  it('accepts a digest, and a built service with a local tag', () => {
    assert.deepEqual(pinProblems(brokenCopy((doc) => (service(doc, 'temporal-ui').image = `temporalio/ui@sha256:${'a'.repeat(64)}`))), []);
    assert.deepEqual(pinProblems(brokenCopy((doc) => (service(doc, 'slipway-api').image = 'slipway:1.0.0'))), []);
    assert.equal(pinProblems(brokenCopy((doc) => (service(doc, 'slipway-api').image = 'slipway:latest'))).length, 1);
  });

  it('a depends_on that waits for health from a service without a healthcheck', () => {
    const problems = wiringProblems(brokenCopy((doc) => delete service(doc, 'mongo').healthcheck));
    assert.ok(problems.some((p) => p.includes('waits for mongo to be healthy')), problems.join('\n'));
  });

  it('a depends_on on a service that does not exist', () => {
    const problems = wiringProblems(brokenCopy((doc) => ((service(doc, 'slipway-api').depends_on as Doc).redis = { condition: 'service_started' })));
    assert.ok(problems.some((p) => p.includes('unknown service redis')), problems.join('\n'));
  });

  it('a healthcheck interval that is not a duration', () => {
    const problems = wiringProblems(brokenCopy((doc) => ((service(doc, 'mongo').healthcheck as Doc).interval = '5 seconds')));
    assert.ok(problems.some((p) => p.includes('healthcheck.interval')), problems.join('\n'));
  });

  it('a bind mount of a file that is not in the repository', () => {
    const problems = wiringProblems(brokenCopy((doc) => (service(doc, 'prometheus').volumes = ['./deploy/prometheus.yaml:/etc/prometheus/prometheus.yml:ro'])));
    assert.ok(problems.some((p) => p.includes('./deploy/prometheus.yaml')), problems.join('\n'));
  });
});

describe('Compose interpolation (as the checks apply it)', () => {
  it('follows the Compose rules for defaults, replacements and $$', () => {
    const env = { SET: 'x', EMPTY: '' };
    assert.equal(interpolate('${UNSET:-d}/${EMPTY:-d}/${EMPTY-d}/${SET:-d}', env), 'd/d//x');
    assert.equal(interpolate('${SET:+r}/${EMPTY:+r}/${EMPTY+r}/${UNSET+r}', env), 'r//r/');
    assert.equal(interpolate('$$HOME $SET ${UNSET:-${SET}}', env), '$HOME x x');
    assert.throws(() => interpolate('${UNSET:?say why}', env), /UNSET is missing: say why/);
  });
});
