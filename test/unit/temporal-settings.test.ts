/**
 * config/temporal.ts: how TEMPORAL_* variables and temporal.toml profiles
 * become one process's Temporal connection, and that every bad setting stops
 * the process with the name of the variable or profile key to fix.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { describeTemporal, devTemporalSettings, explainConnectFailure, loadTemporalSettings, TemporalSettingsError } from '../../config/temporal';
import { freePort } from '../../devstack/processes';
import { createTestCa, writePemFiles } from '../support/tls';

describe('loadTemporalSettings', () => {
  let dir: string;
  let pem: Record<'ca' | 'cert' | 'key' | 'otherKey' | 'garbage', string>;
  let noProfiles: string;

  before(async () => {
    const ca = await createTestCa();
    const client = await ca.issue('client', 'worker');
    const other = await ca.issue('client', 'someone-else');
    ({ dir, paths: pem } = await writePemFiles({ ca: ca.cert, cert: client.cert, key: client.key, otherKey: other.key, garbage: 'not a pem file' }));
    noProfiles = path.join(dir, 'empty.toml');
    await fs.writeFile(noProfiles, '[profile]\n');
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const load = (env: Record<string, string>) => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: noProfiles, ...env });
  const writeToml = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await fs.writeFile(file, text);
    return file;
  };

  it('connects plain to 127.0.0.1:7233, namespace "default", when nothing is set (the local dev server)', () => {
    const s = load({});
    assert.deepEqual({ address: s.address, namespace: s.namespace, transport: s.transport }, { address: '127.0.0.1:7233', namespace: 'default', transport: {} });
  });

  it('treats empty variables as unset, as every Slipway setting does', () => {
    const s = load({ TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '', TEMPORAL_TLS_CLIENT_CERT_PATH: '' });
    assert.deepEqual({ address: s.address, namespace: s.namespace, transport: s.transport }, { address: '127.0.0.1:7233', namespace: 'default', transport: {} });
  });

  it('turns TLS on for an API key, and never puts the key in what it logs', () => {
    const s = load({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'secret-key-123' });
    assert.equal(s.transport.apiKey, 'secret-key-123');
    assert.equal(s.transport.tls, true);
    assert.equal(s.namespace, 'ns.acct');
    const described = JSON.stringify(describeTemporal(s));
    assert.doesNotMatch(described, /secret-key-123/);
    assert.match(described, /"temporalApiKey":true/);
  });

  it('loads the CA and client pair for mTLS from TEMPORAL_TLS_* paths', () => {
    const s = load({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: pem.ca, TEMPORAL_TLS_CLIENT_CERT_PATH: pem.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: pem.key, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    assert.equal(typeof s.transport.tls, 'object');
    const tls = s.transport.tls as Exclude<typeof s.transport.tls, boolean | undefined>;
    assert.equal(tls.serverNameOverride, 'temporal.internal');
    assert.ok(tls.serverRootCACertificate && tls.clientCertPair);
    assert.equal(describeTemporal(s).temporalTls, 'mtls');
  });

  it('reads the TEMPORAL_PROFILE profile of TEMPORAL_CONFIG_FILE, variables winning field by field', async () => {
    const file = await writeToml(
      'profiles.toml',
      `[profile.default]\naddress = "127.0.0.1:1"\n[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\napi_key = "from-file"\n[profile.prod.tls]\nserver_name = "prod.example"\nserver_ca_cert_path = "${pem.ca}"\n`,
    );
    const s = loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'prod-override' });
    assert.equal(s.address, 'prod.example:7233');
    assert.equal(s.namespace, 'prod-override');
    assert.equal(s.transport.apiKey, 'from-file');
    assert.match(s.source, /profile "prod"/);
    assert.match(s.addressFrom, /^address in \[profile\.prod\] of .*profiles\.toml$/);
    assert.equal(loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: 'x:1' }).addressFrom, 'TEMPORAL_ADDRESS');
    // TEMPORAL_TLS=false turns a profile's TLS off, as for the temporal CLI.
    assert.equal(loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_TLS: 'false' }).transport.tls, false);
    // Without TEMPORAL_PROFILE, the "default" profile.
    assert.equal(loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file }).address, '127.0.0.1:1');
  });

  it('reads the default ~/.config/temporalio/temporal.toml like the temporal CLI, and slipway dev ignores it', async () => {
    const home = await fs.mkdtemp(path.join(dir, 'home-'));
    await fs.mkdir(path.join(home, '.config', 'temporalio'), { recursive: true });
    await fs.writeFile(path.join(home, '.config', 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "cloud.example:7233"\nnamespace = "cloud"\napi_key = "k"\n');
    const s = loadTemporalSettings({ HOME: home });
    assert.equal(s.address, 'cloud.example:7233');
    const dev = devTemporalSettings('127.0.0.1:7233', { HOME: home });
    assert.deepEqual({ address: dev.address, namespace: dev.namespace, transport: dev.transport }, { address: '127.0.0.1:7233', namespace: 'default', transport: {} });
  });

  const refuses = (env: Record<string, string>, message: RegExp) => assert.throws(() => load(env), (err: Error) => err instanceof TemporalSettingsError && message.test(err.message));

  it('names TEMPORAL_CONFIG_FILE when it points at no file or at something that is not TOML', async () => {
    assert.throws(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml') }), /TEMPORAL_CONFIG_FILE: no file at .*missing\.toml/);
    const bad = await writeToml('bad.toml', '[profile.default\naddress = ');
    assert.throws(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: bad }), /bad\.toml \(TEMPORAL_CONFIG_FILE\) cannot be read as Temporal client config/);
  });

  it('names TEMPORAL_PROFILE and the profiles there are when the profile does not exist', async () => {
    const file = await writeToml('two.toml', '[profile.a]\naddress = "a:1"\n[profile.b]\naddress = "b:1"\n');
    assert.throws(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'c' }), /TEMPORAL_PROFILE=c: no \[profile\.c\] in .*two\.toml; profiles there: a, b/);
  });

  it('refuses any profile name the file lacks, with a settings error, whatever the name (inherited object keys included)', async () => {
    const file = await writeToml('one.toml', '[profile.only]\naddress = "a:1"\n');
    fc.assert(
      fc.property(fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf')), (name) => {
        fc.pre(name !== 'only');
        assert.throws(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: name }), TemporalSettingsError);
      }),
    );
  });

  it('refuses a client certificate without its key, and a key without its certificate, naming the missing variable', () => {
    refuses({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem.cert }, /only the client certificate is set: set TEMPORAL_TLS_CLIENT_KEY_PATH/);
    refuses({ TEMPORAL_TLS_CLIENT_KEY_PATH: pem.key }, /only the client key is set: set TEMPORAL_TLS_CLIENT_CERT_PATH/);
  });

  it('refuses a missing or non-PEM file, naming the variable that points at it', () => {
    refuses({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'nope.pem') }, /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .*nope\.pem \(ENOENT\)/);
    refuses({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem.garbage, TEMPORAL_TLS_CLIENT_KEY_PATH: pem.key }, /^TEMPORAL_TLS_CLIENT_CERT_PATH: not a PEM X\.509 certificate/);
    refuses({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem.cert, TEMPORAL_TLS_CLIENT_KEY_DATA: 'garbage' }, /^TEMPORAL_TLS_CLIENT_KEY_DATA: not a PEM private key/);
  });

  it('names the profile key when the bad path comes from the TOML file', async () => {
    const file = await writeToml('badpath.toml', `[profile.prod.tls]\nclient_cert_path = "${path.join(dir, 'gone.pem')}"\nclient_key_path = "${pem.key}"\n`);
    assert.throws(() => loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }), /^TemporalSettingsError: tls\.client_cert_path in \[profile\.prod\] of .*badpath\.toml: cannot read/);
  });

  it('does not blame the TLS settings when the address does not answer at all', async () => {
    const port = await freePort();
    const message = await explainConnectFailure(`127.0.0.1:${port}`, { tls: true, apiKey: 'k' }, new Error('Failed to connect before the deadline'));
    assert.match(message, /^Failed to connect before the deadline \(ECONNREFUSED: /);
    assert.doesNotMatch(message, /TEMPORAL_TLS/);
    assert.equal(await explainConnectFailure('127.0.0.1:1', {}, new Error('plain')), 'plain');
  });

  it('refuses a client key that is not the certificate\'s key', () => {
    refuses({ TEMPORAL_TLS_CLIENT_CERT_PATH: pem.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: pem.otherKey }, /the client key \(TEMPORAL_TLS_CLIENT_KEY_PATH\) is not the key of the client certificate/);
  });
});
