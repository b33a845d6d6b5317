/**
 * Files a pipeline or a registered version names (gate datasets, prompt
 * suites, `file://` and path artifacts): read only from the worker's
 * configured roots (SLIPWAY_FILE_ROOTS), after realpath, only regular files
 * no bigger than SLIPWAY_FILE_MAX_BYTES, and hashed while read from the one
 * descriptor opened (no second open a swapped path could redirect).
 * Refusals name the path as given and the setting to change, never the
 * file's contents nor the digest of bytes the worker was not asked to trust.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { artifactUriScheme } from '../domain/model-version';
import { ArtifactDigestMismatchError, REPO_ROOT } from '../serving/model-runtime';
import { readPluginSettings, type PluginSettings } from './plugins';

/** FILE_ROOTS_SETTING lists the folders the worker reads pipeline-named files from (separated by the OS path delimiter, ':' on Linux). */
export const FILE_ROOTS_SETTING = 'SLIPWAY_FILE_ROOTS';

/** FILE_MAX_BYTES_SETTING bounds the size of any file the worker reads for a pipeline or an artifact. */
export const FILE_MAX_BYTES_SETTING = 'SLIPWAY_FILE_MAX_BYTES';

/** DEFAULT_FILE_ROOTS are the repository's models/ and examples/ folders: what `slipway dev`, the demo and the examples read. */
export const DEFAULT_FILE_ROOTS = [path.join(REPO_ROOT, 'models'), path.join(REPO_ROOT, 'examples')];

/** DEFAULT_FILE_MAX_BYTES is 256 MiB: bigger than the datasets and ONNX models gates read, small enough for a worker's memory. */
export const DEFAULT_FILE_MAX_BYTES = 256 * 1024 * 1024;

/** FileAccess is where the worker may read files from and how big they may be. */
export interface FileAccess {
  /** Absolute folders; a file must be inside one both as named and after resolving symlinks. */
  roots: readonly string[];
  maxBytes: number;
  /** Relative paths are resolved from here (the repository). */
  base: string;
}

const fileSettingsSchema = z.object({
  [FILE_ROOTS_SETTING]: z.string().optional(),
  [FILE_MAX_BYTES_SETTING]: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, `must be a whole number of bytes, such as ${DEFAULT_FILE_MAX_BYTES}`)
    .optional()
    .transform((v) => (v === undefined ? undefined : Number(v))),
});

/** fileAccessFromSettings reads SLIPWAY_FILE_ROOTS (absolute folders) and SLIPWAY_FILE_MAX_BYTES, with safe defaults. */
export function fileAccessFromSettings(settings: PluginSettings, base: string = REPO_ROOT): FileAccess {
  const s = readPluginSettings('file access', fileSettingsSchema, settings);
  const given = s[FILE_ROOTS_SETTING];
  const roots = given === undefined ? DEFAULT_FILE_ROOTS : given.split(path.delimiter).map((r) => r.trim()).filter(Boolean);
  for (const root of roots) {
    if (!path.isAbsolute(root)) throw new Error(`${FILE_ROOTS_SETTING}: "${root.slice(0, 200)}" is not an absolute folder; list absolute folders separated by "${path.delimiter}"`);
    if (path.resolve(root) === path.parse(root).root) throw new Error(`${FILE_ROOTS_SETTING}: "${root}" is the whole file system; list the folders that hold datasets, suites and models`);
  }
  if (roots.length === 0) throw new Error(`${FILE_ROOTS_SETTING} is set but lists no folder; list absolute folders separated by "${path.delimiter}", or unset it for the default`);
  return Object.freeze({ roots: roots.map((r) => path.resolve(r)), maxBytes: s[FILE_MAX_BYTES_SETTING] ?? DEFAULT_FILE_MAX_BYTES, base });
}

/** FileRefusal is why a file was not read: outside the roots, a scheme the worker does not read, missing, not a regular file, too big, or unreadable. */
export type FileRefusal = 'outside' | 'scheme' | 'missing' | 'kind' | 'size' | 'unreadable';

/** FileRefusedError says a file was not read because of where or what it is; its message names the setting that decides. */
export class FileRefusedError extends Error {
  constructor(
    message: string,
    readonly kind: FileRefusal = 'unreadable',
  ) {
    super(message);
    this.name = 'FileRefusedError';
  }
}

/** ARTIFACT_FILE_SCHEMES are the artifact URI schemes the worker reads from disk; a URI with no scheme is a path. */
export const ARTIFACT_FILE_SCHEMES = ['file'] as const;

/** pathOfRef turns a path, or a `file:` URL, into an absolute path (relative to `base`); any other scheme is refused. */
export function pathOfRef(ref: string, field: string, base: string): string {
  if (ref.includes('\0')) throw new FileRefusedError(`${field}: the path contains a NUL byte`);
  const scheme = artifactUriScheme(ref);
  if (scheme !== undefined) {
    if (!(ARTIFACT_FILE_SCHEMES as readonly string[]).includes(scheme)) {
      throw new FileRefusedError(`${field}: ${scheme}: is not read by the worker; give a path, or a file:///absolute/path URL, under ${FILE_ROOTS_SETTING}`, 'scheme');
    }
    try {
      return fileURLToPath(ref);
    } catch (err) {
      throw new FileRefusedError(`${field}: ${JSON.stringify(ref.slice(0, 200))} is not a usable file URL (${(err as Error).message}); write file:///absolute/path`);
    }
  }
  return path.resolve(base, ref);
}

function inside(file: string, root: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' ? false : !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function realRoots(access: FileAccess): Promise<string[]> {
  const out: string[] = [];
  for (const root of access.roots) {
    try {
      out.push(await fs.realpath(root));
    } catch {
      // A root that does not exist holds no file.
    }
  }
  return out;
}

function outsideRoots(field: string, shown: string, access: FileAccess, why: string): FileRefusedError {
  return new FileRefusedError(`${field}: ${shown} ${why} the folders this worker reads files from (${FILE_ROOTS_SETTING}=${access.roots.join(path.delimiter)}); move the file under one of them, or add its folder to ${FILE_ROOTS_SETTING}`, 'outside');
}

/** ReadFile is a file read from inside the roots: its real path, its bytes and their sha256. */
export interface ReadFile {
  /** The real path (symlinks resolved). */
  path: string;
  bytes: Buffer;
  sha256: string;
}

/** resolveAllowedFile resolves a path or file: URL to its real path inside a root, checking it is a regular file within the size limit. */
export async function resolveAllowedFile(ref: string, field: string, access: FileAccess): Promise<{ path: string; size: number }> {
  const lexical = pathOfRef(ref, field, access.base);
  const shown = JSON.stringify(ref.slice(0, 300));
  // Refused before it is looked at, so the answer does not say whether a file outside the roots exists.
  if (!access.roots.some((root) => inside(lexical, root))) throw outsideRoots(field, shown, access, 'is outside');
  let real: string;
  try {
    real = await fs.realpath(lexical);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FileRefusedError(`${field}: ${shown} does not exist (read from ${lexical})`, 'missing');
    throw new FileRefusedError(`${field}: ${shown} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const roots = await realRoots(access);
  if (!roots.some((root) => inside(real, root))) throw outsideRoots(field, shown, access, 'leads by a symbolic link outside');
  const stat = await fs.stat(real);
  checkKind(stat, field, shown, access);
  return { path: real, size: stat.size };
}

function checkKind(stat: { isFile(): boolean; size: number }, field: string, shown: string, access: FileAccess): void {
  if (!stat.isFile()) throw new FileRefusedError(`${field}: ${shown} is not a regular file (a folder, device, socket or pipe); name a file`, 'kind');
  if (stat.size > access.maxBytes) {
    throw new FileRefusedError(`${field}: ${shown} is ${stat.size} bytes, more than ${FILE_MAX_BYTES_SETTING}=${access.maxBytes}; use a smaller file or raise ${FILE_MAX_BYTES_SETTING}`, 'size');
  }
}

/**
 * readAllowedFile reads a file a pipeline or artifact names: resolved inside the roots, opened once (not following a
 * final symlink, not blocking on a pipe), checked on that descriptor to be a regular file within the size limit and
 * still inside the roots, then read and hashed in one pass. With `expectSha256`, bytes that hash otherwise are refused.
 */
export async function readAllowedFile(ref: string, field: string, access: FileAccess, expectSha256?: string): Promise<ReadFile> {
  const shown = JSON.stringify(ref.slice(0, 300));
  const resolved = await resolveAllowedFile(ref, field, access);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(resolved.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new FileRefusedError(`${field}: ${shown} cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'}); it may have been replaced while being checked`);
  }
  try {
    checkKind(await handle.stat(), field, shown, access);
    // What the descriptor really is, whatever happened to the path since it was resolved (Linux; elsewhere the checks above stand).
    const opened = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (opened !== null && !(await realRoots(access)).some((root) => inside(opened, root))) throw outsideRoots(field, shown, access, 'was swapped for a file outside');
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      // The file may grow after its size was checked.
      if (size > access.maxBytes) throw new FileRefusedError(`${field}: ${shown} grew past ${FILE_MAX_BYTES_SETTING}=${access.maxBytes} bytes while being read`, 'size');
      const piece = Buffer.from(chunk.subarray(0, bytesRead));
      hash.update(piece);
      chunks.push(piece);
    }
    const sha256 = hash.digest('hex');
    if (expectSha256 !== undefined && sha256 !== expectSha256.toLowerCase()) throw new ArtifactDigestMismatchError(resolved.path, expectSha256);
    return { path: resolved.path, bytes: Buffer.concat(chunks, size), sha256 };
  } finally {
    await handle.close();
  }
}

/** readAllowedText reads an allowed file as UTF-8 text (datasets, suites). */
export async function readAllowedText(ref: string, field: string, access: FileAccess): Promise<{ path: string; text: string }> {
  const file = await readAllowedFile(ref, field, access);
  return { path: file.path, text: file.bytes.toString('utf8') };
}
