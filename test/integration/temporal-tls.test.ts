/**
 * Slipway's worker, API and CLI reach a Temporal that needs mTLS and an API
 * key, set up only with the `temporal` CLI's settings (TEMPORAL_* variables or
 * a TOML profile). The TLS endpoint is an HTTP/2 proxy made by this test in
 * front of the test Temporal server: it requires a client certificate signed
 * by the test CA and records the `authorization` header of every gRPC call.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { explainConnectFailure, loadTemporalSettings, type TemporalSettings } from '../../config/temporal';
import { freePort } from '../../devstack/processes';
import { REPO_ROOT } from '../../devstack/stack';
import { createSlipwayWorker } from '../../workers/worker';
import { stackCheckWorkflow } from '../../workflows';
import { openTestDb, TEST_SIGNER, testEnv, uniqueName, type TestDb } from '../support/stack';
import { createTestCa, startMtlsProxy, writePemFiles, type MtlsProxy } from '../support/tls';

// The runner's environment without any TEMPORAL_* setting: each case gives its own.
function baseEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _runnerOnly, ...inherited } = process.env;
  return Object.fromEntries(Object.entries(inherited).filter(([name]) => !name.startsWith('TEMPORAL_')));
}

describe('Temporal over mTLS with an API key, configured as the temporal CLI is', () => {
  let db: TestDb;
  let proxy: MtlsProxy;
  let files: Record<'ca' | 'clientCert' | 'clientKey' | 'otherCa', string>;
  let dir: string;
  // TEMPORAL_* for the proxy with a client certificate and CA; the API key is added per case.
  let mtlsVars: Record<string, string>;

  before(async () => {
    db = await openTestDb();
    const ca = await createTestCa();
    const otherCa = await createTestCa('Some Other CA');
    const server = await ca.issue('server', 'localhost');
    const client = await ca.issue('client', 'slipway-worker');
    ({ dir, paths: files } = await writePemFiles({ ca: ca.cert, clientCert: client.cert, clientKey: client.key, otherCa: otherCa.cert }));
    proxy = await startMtlsProxy({ server, clientCa: ca.cert, upstream: testEnv().temporalAddress });
    mtlsVars = {
      TEMPORAL_CONFIG_FILE: process.env.TEMPORAL_CONFIG_FILE!,
      TEMPORAL_ADDRESS: proxy.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: files.clientKey,
    };
  });
  after(async () => {
    await proxy?.close();
    await db?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const connect = (s: TemporalSettings) => Connection.connect({ address: s.address, ...s.transport, connectTimeout: 5_000 });
  const callsWithKey = (key: string) => proxy.calls.filter((c) => c.authorization === `Bearer ${key}`);

  it('runs a workflow with a worker and a client set up only by TEMPORAL_* variables, sending the API key and client certificate on every call', async () => {
    const key = `worker-key-${randomUUID()}`;
    const settings = loadTemporalSettings({ ...mtlsVars, TEMPORAL_API_KEY: key });
    const taskQueue = uniqueName('tq');
    const { worker, close } = await createSlipwayWorker({
      temporalAddress: settings.address,
      temporalTransport: settings.transport,
      namespace: settings.namespace,
      taskQueue,
      db: db.db,
      trustedKeys: TEST_SIGNER.trusted(),
    });
    const running = worker.run();
    const connection = await connect(settings);
    try {
      const client = new Client({ connection, namespace: settings.namespace });
      const checkId = `check-${randomUUID()}`;
      const result = await client.workflow.execute(stackCheckWorkflow, { taskQueue, workflowId: `stack-check-${checkId}`, args: [checkId] });
      assert.equal(result.readBack, true);
    } finally {
      worker.shutdown();
      await running;
      await close();
      await connection.close();
    }
    const calls = callsWithKey(key);
    // The worker's own (Rust) connection polls; the client connection starts the workflow: both went through mTLS with the key.
    assert.ok(calls.some((c) => c.path.endsWith('/PollWorkflowTaskQueue')), 'no workflow task poll carried the API key');
    assert.ok(calls.some((c) => c.path.endsWith('/PollActivityTaskQueue')), 'no activity task poll carried the API key');
    assert.ok(calls.some((c) => c.path.endsWith('/StartWorkflowExecution')), 'the workflow start did not carry the API key');
    assert.ok(calls.every((c) => c.clientCn === 'slipway-worker'));
    const polls = proxy.calls.filter((c) => c.path.endsWith('/PollWorkflowTaskQueue'));
    assert.ok(polls.every((c) => c.authorization?.startsWith('Bearer ')), 'a poll reached Temporal without an API key');
  });

  it('refuses a connection that offers no client certificate: nothing reaches Temporal', async () => {
    const before = proxy.calls.length;
    const refusedBefore = proxy.refusedHandshakes.length;
    const { TEMPORAL_TLS_CLIENT_CERT_PATH: _c, TEMPORAL_TLS_CLIENT_KEY_PATH: _k, ...noClientCert } = mtlsVars;
    const settings = loadTemporalSettings(noClientCert);
    assert.equal(typeof settings.transport.tls, 'object');
    const err = await connect(settings).then(() => assert.fail('connected without a client certificate'), (e: unknown) => e);
    assert.match(await explainConnectFailure(settings.address, settings.transport, err), /requires a client certificate \(mTLS\) and no client certificate is set/);
    assert.equal(proxy.calls.length, before, 'a call without a client certificate reached Temporal');
    assert.ok(proxy.refusedHandshakes.length > refusedBefore, 'the endpoint saw no refused handshake');
  });

  it('refuses a server certificate the configured CA did not sign: the worker fails at start naming the CA setting', async () => {
    const before = proxy.calls.length;
    const settings = loadTemporalSettings({ ...mtlsVars, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.otherCa });
    await assert.rejects(
      createSlipwayWorker({ temporalAddress: settings.address, temporalTransport: settings.transport, namespace: settings.namespace, taskQueue: uniqueName('tq'), db: db.db }),
      /cannot connect to Temporal at 127\.0\.0\.1:\d+: TLS refused: the server's certificate is not signed by the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH/,
    );
    assert.equal(proxy.calls.length, before);
  });

  it('stops the worker process at start when the CA in its TEMPORAL_* settings did not sign the server, naming the setting', async () => {
    const worker = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'workers', 'main.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...baseEnv(), ...mtlsVars, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.otherCa, SLIPWAY_MONGODB_URI: db.uri, SLIPWAY_WORKER_HTTP_PORT: '0', SLIPWAY_TASK_QUEUE: uniqueName('tq') },
    });
    let output = '';
    worker.stdout.on('data', (b: Buffer) => (output += b.toString()));
    worker.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => worker.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => worker.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 1, output);
    assert.match(output, /cannot connect to Temporal at 127\.0\.0\.1:\d+: TLS refused: the server's certificate is not signed by the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
  });

  it('connects the API process through a TOML profile (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE) and answers a request that needs Temporal', async () => {
    const key = `api-key-${randomUUID()}`;
    const toml = path.join(dir, 'temporal.toml');
    await fs.writeFile(
      toml,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '[profile.prod]',
        `address = "${proxy.address}"`,
        'namespace = "default"',
        `api_key = "${key}"`,
        '[profile.prod.tls]',
        `server_ca_cert_path = "${files.ca}"`,
        `client_cert_path = "${files.clientCert}"`,
        `client_key_path = "${files.clientKey}"`,
        '',
      ].join('\n'),
    );
    const signingKey = path.join(dir, 'api-signing-key.pem');
    await fs.writeFile(signingKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const viewerToken = `viewer-${randomUUID()}`;
    const tokens = path.join(dir, 'api-tokens.json');
    await fs.writeFile(tokens, JSON.stringify({ tokens: [{ user: 'vic', token: viewerToken, roles: ['viewer'], approves: [] }] }));
    const port = await freePort();
    const api = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'api', 'main.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...baseEnv(),
        TEMPORAL_CONFIG_FILE: toml,
        TEMPORAL_PROFILE: 'prod',
        SLIPWAY_MONGODB_URI: db.uri,
        SLIPWAY_API_HOST: '127.0.0.1',
        SLIPWAY_API_PORT: String(port),
        SLIPWAY_API_SIGNING_KEY: signingKey,
        SLIPWAY_API_TOKENS: tokens,
      },
    });
    let output = '';
    api.stdout.on('data', (b: Buffer) => (output += b.toString()));
    api.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => api.on('exit', (code) => resolve(code)));
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          const check = () => (output.includes('API listening') ? resolve() : setTimeout(check, 100));
          check();
        }),
        exited.then((code) => assert.fail(`the API exited (${code}) before listening:\n${output}`)),
      ]);
      assert.match(output, /"temporalTls":"mtls"/);
      assert.match(output, /"temporalApiKey":true/);
      assert.doesNotMatch(output, new RegExp(key), 'the API key was logged');
      const connectCalls = callsWithKey(key).length;
      assert.ok(connectCalls > 0, 'the API connected without its profile\'s API key');
      const res = await fetch(`http://127.0.0.1:${port}/releases/release-nosuch-1`, { headers: { authorization: `Bearer ${viewerToken}` } });
      assert.equal(res.status, 404, await res.text());
      assert.ok(callsWithKey(key).length > connectCalls, 'the request did not reach Temporal through the mTLS endpoint');
    } finally {
      api.kill('SIGTERM');
      await exited;
    }
  });

  it('runs a CLI verb through the mTLS endpoint with TEMPORAL_* variables, and names the settings when the CA is wrong', async () => {
    const key = `cli-key-${randomUUID()}`;
    const run = (vars: Record<string, string>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [path.join(REPO_ROOT, 'bin', 'slipway.js'), 'release', 'status', 'release-nosuch-1', '--json'],
          { cwd: REPO_ROOT, env: { ...baseEnv(), ...vars, SLIPWAY_MONGODB_URI: db.uri }, timeout: 60_000 },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
        );
      });
    const ok = await run({ ...mtlsVars, TEMPORAL_API_KEY: key });
    assert.equal(ok.code, 3, `expected "not found" from Temporal\n${ok.stdout}\n${ok.stderr}`);
    assert.ok(callsWithKey(key).length > 0, 'the CLI reached Temporal without its API key');

    const wrongCa = await run({ ...mtlsVars, TEMPORAL_API_KEY: key, TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.otherCa });
    assert.equal(wrongCa.code, 5, `expected "unreachable"\n${wrongCa.stdout}\n${wrongCa.stderr}`);
    assert.match(wrongCa.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+ \(TEMPORAL_ADDRESS\): TLS refused: the server's certificate is not signed by the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH/);

    const missingKey = await run({ ...mtlsVars, TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'nope.pem') });
    assert.equal(missingKey.code, 2);
    assert.match(missingKey.stdout + missingKey.stderr, /TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read/);
  });
});
