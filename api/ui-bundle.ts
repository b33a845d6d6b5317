/**
 * The release board's page, built from ui/ source when the API starts:
 * esbuild bundles ui/main.tsx (Preact) in memory in well under a second, so
 * there is no build step, no committed output and nothing downloaded at run
 * time. One build per process, shared by every API instance in it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

/** UI_DIR is where the board's source lives. */
export const UI_DIR = path.resolve(__dirname, '..', 'ui');

/** UiAssets are the files the API serves for the board. */
export interface UiAssets {
  html: string;
  js: string;
  css: string;
  /** Short content hash, used in asset URLs so a new build is never served from a stale cache. */
  version: string;
}

let pending: Promise<UiAssets> | undefined;

/** loadUiAssets bundles the board once per process; a failed build is retried on the next call. */
export function loadUiAssets(): Promise<UiAssets> {
  pending ??= buildUi().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

async function buildUi(): Promise<UiAssets> {
  const [bundle, css] = await Promise.all([
    build({
      entryPoints: [path.join(UI_DIR, 'main.tsx')],
      bundle: true,
      write: false,
      format: 'iife',
      minify: true,
      target: 'es2020',
      jsx: 'automatic',
      jsxImportSource: 'preact',
      tsconfig: path.join(UI_DIR, 'tsconfig.json'),
      logLevel: 'silent',
      legalComments: 'none',
    }),
    fs.readFile(path.join(UI_DIR, 'board.css'), 'utf8'),
  ]);
  const js = bundle.outputFiles[0]!.text;
  const version = createHash('sha256').update(js).update(css).digest('hex').slice(0, 12);
  // No inline script or style anywhere: the page passes a CSP without 'unsafe-inline'.
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Slipway release board</title>',
    // An empty icon: browsers stop asking for /favicon.ico.
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="/ui/board.css?v=${version}">`,
    `<script defer src="/ui/board.js?v=${version}"></script>`,
    '</head>',
    '<body><div id="app"><noscript>The Slipway release board needs JavaScript.</noscript></div></body>',
    '</html>',
  ].join('\n');
  return { html, js, css, version };
}
