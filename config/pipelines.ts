/**
 * Loading pipeline definitions from the SLIPWAY_PIPELINES folder. Every file
 * is read and checked before anything is returned, so one bad file stops the
 * load with all problems listed at once instead of half a set of pipelines.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  BUILT_IN_FILE,
  DEFAULT_PIPELINE,
  DEFAULT_PIPELINE_YAML,
  MAX_PIPELINE_SOURCE_LENGTH,
  PipelineError,
  ROOT_PATH,
  parsePipeline,
  type Pipeline,
  type PipelineIssue,
} from '../domain/pipeline';

/** LoadedPipeline is a validated pipeline with the text and file it came from (the text is kept for display and hashing). */
export interface LoadedPipeline {
  pipeline: Pipeline;
  source: string;
  file: string;
}

const PIPELINE_FILE = /\.ya?ml$/i;

/** loadPipelinesFromDir returns the built-in `default` plus each *.yaml/*.yml in `dir` by name (a folder `default` wins); throws one PipelineError listing every problem. */
export async function loadPipelinesFromDir(dir: string | undefined): Promise<Map<string, LoadedPipeline>> {
  const pipelines = new Map<string, LoadedPipeline>([['default', { pipeline: DEFAULT_PIPELINE, source: DEFAULT_PIPELINE_YAML, file: BUILT_IN_FILE }]]);
  if (dir === undefined || dir === '') return pipelines;

  const files = await listPipelineFiles(dir);
  const loaded = await Promise.all(files.map(loadFile));

  const issues: PipelineIssue[] = [];
  // Name -> file that claimed it first (the built-in default may be replaced, not duplicated).
  const claimedBy = new Map<string, string>();
  for (const result of loaded) {
    if ('issues' in result) {
      issues.push(...result.issues);
      continue;
    }
    const { name } = result.pipeline;
    const earlier = claimedBy.get(name);
    if (earlier !== undefined) {
      issues.push({ file: result.file, path: 'name', reason: `pipeline "${name}" is also defined in ${earlier}; each pipeline name may be used by one file only` });
      continue;
    }
    claimedBy.set(name, result.file);
    pipelines.set(name, result);
  }
  if (issues.length > 0) throw new PipelineError(issues);
  return pipelines;
}

async function listPipelineFiles(dir: string): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'SLIPWAY_PIPELINES points at a folder that does not exist: create it, or unset SLIPWAY_PIPELINES to use only the built-in default pipeline'
        : code === 'ENOTDIR'
          ? 'SLIPWAY_PIPELINES points at a file, not a folder: point it at the folder that holds the pipeline *.yaml files'
          : `SLIPWAY_PIPELINES folder cannot be read: ${(err as Error).message}`;
    throw new PipelineError([{ file: dir, path: '', reason }]);
  }
  return (
    entries
      // Dotfiles are editor backups and lock files, not pipelines. Symlinks are followed when read.
      .filter((e) => !e.name.startsWith('.') && PIPELINE_FILE.test(e.name) && (e.isFile() || e.isSymbolicLink()))
      .map((e) => path.join(dir, e.name))
      // Sorted so "also defined in" always names the same file first.
      .sort()
  );
}

async function loadFile(file: string): Promise<LoadedPipeline | { file: string; issues: PipelineIssue[] }> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return { file, issues: [{ file, path: '', reason: 'is not a regular file' }] };
    // Checked before reading so a huge file is never loaded into memory.
    if (stat.size > MAX_PIPELINE_SOURCE_LENGTH) {
      return { file, issues: [{ file, path: ROOT_PATH, reason: `is ${stat.size} bytes; a pipeline file may be at most ${MAX_PIPELINE_SOURCE_LENGTH} bytes` }] };
    }
    const source = await fs.readFile(file, 'utf8');
    return { pipeline: parsePipeline(source, file), source, file };
  } catch (err) {
    if (err instanceof PipelineError) return { file, issues: err.issues };
    return { file, issues: [{ file, path: '', reason: `cannot be read: ${(err as Error).message}` }] };
  }
}
