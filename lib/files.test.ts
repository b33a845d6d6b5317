import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ArtifactDigestMismatchError } from '../serving/model-runtime';
import { DEFAULT_FILE_ROOTS, FileRefusedError, fileAccessFromSettings, readAllowedFile, type FileAccess } from './files';

// Content no error may ever carry.
const SECRET_TEXT = 'BEGIN PRIVATE KEY do-not-echo-0123456789';

const refused = (kind: FileRefusedError['kind'], pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof FileRefusedError, String(err));
  assert.equal(err.kind, kind, err.message);
  assert.match(err.message, pattern);
  assert.ok(!err.message.includes(SECRET_TEXT), 'the file\'s contents are not in the error');
  return true;
};

describe('files read only from the allowed roots', () => {
  let top: string;
  let root: string;
  let outside: string;
  let access: FileAccess;

  before(() => {
    top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'slipway-files-')));
    root = path.join(top, 'allowed');
    outside = path.join(top, 'secret');
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(root, 'data', 'ok.csv'), 'a,b\n1,2\n');
    fs.writeFileSync(path.join(outside, 'key.pem'), SECRET_TEXT);
    fs.symlinkSync(path.join(outside, 'key.pem'), path.join(root, 'data', 'escape.csv'));
    fs.symlinkSync(outside, path.join(root, 'escape-dir'));
    fs.symlinkSync(path.join(root, 'data', 'ok.csv'), path.join(root, 'inside-link.csv'));
    fs.writeFileSync(path.join(root, 'big.csv'), 'x'.repeat(2048));
    access = { roots: [root], maxBytes: 1024, base: root };
  });
  after(() => fs.rmSync(top, { recursive: true, force: true }));

  it('reads a file inside a root, by relative path, absolute path or file: URL, with the sha256 of exactly its bytes', async () => {
    const digest = createHash('sha256').update('a,b\n1,2\n').digest('hex');
    for (const ref of ['data/ok.csv', path.join(root, 'data', 'ok.csv'), pathToFileURL(path.join(root, 'data', 'ok.csv')).href, 'inside-link.csv']) {
      const file = await readAllowedFile(ref, 'dataset', access);
      assert.deepEqual([file.path, file.bytes.toString('utf8'), file.sha256], [path.join(root, 'data', 'ok.csv'), 'a,b\n1,2\n', digest], ref);
    }
  });

  it('refuses any path that climbs out of the roots, without saying whether the file exists', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('..', 'data', '.', 'x'), { maxLength: 6 }), fc.constantFrom('secret/key.pem', 'etc/passwd', 'nope'), async (segments, target) => {
        const ref = [...segments, '..', '..', '..', target].join('/');
        const lexical = path.resolve(root, ref);
        if (lexical.startsWith(`${root}${path.sep}`)) return;
        await assert.rejects(readAllowedFile(ref, 'dataset', access), refused('outside', /^dataset: .* is outside the folders this worker reads files from \(SLIPWAY_FILE_ROOTS=.*\); move the file under one of them, or add its folder to SLIPWAY_FILE_ROOTS$/));
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a symbolic link inside a root that leads outside it, to a file or through a folder', async () => {
    await assert.rejects(readAllowedFile('data/escape.csv', 'reference', access), refused('outside', /^reference: "data\/escape.csv" leads by a symbolic link outside the folders/));
    await assert.rejects(readAllowedFile('escape-dir/key.pem', 'suite', access), refused('outside', /leads by a symbolic link outside/));
  });

  it('refuses what is not a regular file, and a file over the size limit, naming the setting', async () => {
    await assert.rejects(readAllowedFile('data', 'dataset', access), refused('kind', /is not a regular file/));
    const fifo = path.join(root, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(readAllowedFile('pipe.csv', 'dataset', access), refused('kind', /is not a regular file/));
    await assert.rejects(readAllowedFile('big.csv', 'dataset', access), refused('size', /is 2048 bytes, more than SLIPWAY_FILE_MAX_BYTES=1024; use a smaller file or raise SLIPWAY_FILE_MAX_BYTES/));
  });

  it('refuses URI schemes it does not read, and says when an allowed file is missing', async () => {
    for (const uri of ['s3://models/fraud/v1.onnx', 'https://example.com/model.onnx', 'http://169.254.169.254/x', 'ftp://x/y']) {
      await assert.rejects(readAllowedFile(uri, 'artifact.uri', access), refused('scheme', /^artifact\.uri: \w+: is not read by the worker/), uri);
    }
    await assert.rejects(readAllowedFile('data/nope.csv', 'dataset', access), refused('missing', /"data\/nope\.csv" does not exist/));
  });

  it('checks the digest on the bytes it read, and never tells the digest it found', async () => {
    const expected = 'a'.repeat(64);
    await assert.rejects(readAllowedFile('data/ok.csv', 'artifact.uri', access, expected), (err: unknown) => {
      assert.ok(err instanceof ArtifactDigestMismatchError, String(err));
      assert.equal(err.message.match(/[0-9a-f]{64}/g)?.join(), expected);
      return true;
    });
  });

  it('reads its roots and limit from the settings, refusing relative roots, the whole file system and bad sizes', () => {
    assert.deepEqual(fileAccessFromSettings({}).roots, DEFAULT_FILE_ROOTS);
    assert.deepEqual(fileAccessFromSettings({ SLIPWAY_FILE_ROOTS: `${root}${path.delimiter}${outside}`, SLIPWAY_FILE_MAX_BYTES: '10' }).roots, [root, outside]);
    assert.throws(() => fileAccessFromSettings({ SLIPWAY_FILE_ROOTS: 'models' }), /SLIPWAY_FILE_ROOTS: "models" is not an absolute folder/);
    assert.throws(() => fileAccessFromSettings({ SLIPWAY_FILE_ROOTS: '/' }), /SLIPWAY_FILE_ROOTS: "\/" is the whole file system/);
    assert.throws(() => fileAccessFromSettings({ SLIPWAY_FILE_MAX_BYTES: '-1' }), /SLIPWAY_FILE_MAX_BYTES must be a whole number of bytes/);
  });
});
