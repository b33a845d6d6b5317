import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_PIPELINE, DEFAULT_PIPELINE_YAML, PipelineError } from '../../domain/pipeline';
import { loadPipelinesFromDir } from '../../config/pipelines';

let root: string;
let counter = 0;

// A fresh folder holding the given files.
async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = path.join(root, `case-${++counter}`);
  await mkdir(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return dir;
}

async function loadError(dir: string): Promise<PipelineError> {
  try {
    await loadPipelinesFromDir(dir);
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the folder to be rejected');
}

const pipeline = (name: string, env = 'dev') => `name: ${name}\nstages:\n  - env: ${env}\n`;

describe('loadPipelinesFromDir', () => {
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'slipway-pipelines-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('returns only the built-in default when no folder is configured', async () => {
    const pipelines = await loadPipelinesFromDir(undefined);
    assert.deepEqual([...pipelines.keys()], ['default']);
    assert.deepEqual(pipelines.get('default'), { pipeline: DEFAULT_PIPELINE, source: DEFAULT_PIPELINE_YAML, file: '<built-in>' });
  });

  it('loads .yaml and .yml files alongside the built-in default, with their source and path', async () => {
    const dir = await folderWith({ 'fast.yaml': pipeline('fast'), 'slow.yml': pipeline('slow', 'prod') });
    const pipelines = await loadPipelinesFromDir(dir);
    assert.deepEqual([...pipelines.keys()].sort(), ['default', 'fast', 'slow']);
    const slow = pipelines.get('slow');
    assert.equal(slow?.file, path.join(dir, 'slow.yml'));
    assert.equal(slow?.source, pipeline('slow', 'prod'));
    assert.equal(slow?.pipeline.stages[0]?.env, 'prod');
    assert.equal(pipelines.get('default')?.file, '<built-in>');
  });

  it('ignores other files, dotfiles and subfolders', async () => {
    const dir = await folderWith({ 'notes.txt': 'not yaml: [', '.hidden.yaml': 'broken: [', 'one.yaml': pipeline('one') });
    await mkdir(path.join(dir, 'nested.yaml'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'deep.yaml'), pipeline('deep'));
    const pipelines = await loadPipelinesFromDir(dir);
    assert.deepEqual([...pipelines.keys()].sort(), ['default', 'one']);
  });

  it('lets a default pipeline in the folder replace the built-in one', async () => {
    const dir = await folderWith({ 'default.yaml': pipeline('default', 'only') });
    const pipelines = await loadPipelinesFromDir(dir);
    assert.equal(pipelines.size, 1);
    assert.equal(pipelines.get('default')?.file, path.join(dir, 'default.yaml'));
    assert.deepEqual(pipelines.get('default')?.pipeline.stages.map((s) => s.env), ['only']);
  });

  it('rejects two files with the same pipeline name, naming both files', async () => {
    const dir = await folderWith({ 'a.yaml': pipeline('shared'), 'b.yml': pipeline('shared') });
    const err = await loadError(dir);
    assert.equal(err.issues.length, 1);
    const [issue] = err.issues;
    assert.equal(issue?.file, path.join(dir, 'b.yml'));
    assert.equal(issue?.path, 'name');
    assert.ok(issue?.reason.includes(path.join(dir, 'a.yaml')), issue?.reason);
  });

  it('rejects two files that both define default', async () => {
    const dir = await folderWith({ 'a.yaml': pipeline('default'), 'b.yaml': pipeline('default') });
    const err = await loadError(dir);
    assert.match(err.message, /b\.yaml: name: pipeline "default" is also defined in .*a\.yaml/);
  });

  it('collects the problems of every bad file into one error', async () => {
    const dir = await folderWith({
      'good.yaml': pipeline('good'),
      'syntax.yaml': 'name: [oops\n',
      'typo.yaml': 'name: typo\nstages:\n  - env: dev\n    bakee: 30s\n',
      'empty.yml': '',
    });
    const err = await loadError(dir);
    const files = new Set(err.issues.map((i) => path.basename(i.file)));
    assert.deepEqual([...files].sort(), ['empty.yml', 'syntax.yaml', 'typo.yaml']);
    assert.ok(err.message.includes(`${path.join(dir, 'typo.yaml')}: stages[0].bakee: unknown key (did you mean "bake"?)`), err.message);
    assert.match(err.message, /syntax\.yaml: line \d+, column \d+: YAML syntax/);
  });

  it('says SLIPWAY_PIPELINES points at a folder that does not exist', async () => {
    const missing = path.join(root, 'no-such-folder');
    const err = await loadError(missing);
    assert.equal(err.issues[0]?.file, missing);
    assert.match(err.message, /SLIPWAY_PIPELINES points at a folder that does not exist/);
  });

  it('says when SLIPWAY_PIPELINES points at a file instead of a folder', async () => {
    const dir = await folderWith({ 'x.yaml': pipeline('x') });
    const err = await loadError(path.join(dir, 'x.yaml'));
    assert.match(err.message, /not a folder/);
  });

  it('reports a symlink to a missing file instead of crashing', async () => {
    const dir = await folderWith({ 'ok.yaml': pipeline('ok') });
    await symlink(path.join(dir, 'gone.yaml'), path.join(dir, 'dangling.yaml'));
    const err = await loadError(dir);
    assert.equal(err.issues[0]?.file, path.join(dir, 'dangling.yaml'));
    assert.match(err.issues[0]?.reason ?? '', /cannot be read/);
  });

  it('refuses a file larger than the pipeline size limit without parsing it', async () => {
    const dir = await folderWith({ 'huge.yaml': `name: huge\n# ${'x'.repeat(2 * 1024 * 1024)}\nstages: [{ env: dev }]\n` });
    const err = await loadError(dir);
    assert.match(err.message, /huge\.yaml: <root>: is \d+ bytes; a pipeline file may be at most/);
  });
});
