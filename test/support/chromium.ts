/**
 * Finding a Chromium for the browser tests and the board bench: never a
 * downloaded browser, only SLIPWAY_CHROMIUM, Debian's /usr/bin/chromium or a
 * chromium on PATH. When none is found the caller skips with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** findChromium answers the executable to drive, or why there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): { path: string } | { missing: string } {
  if (env.SLIPWAY_CHROMIUM) {
    return isExecutable(env.SLIPWAY_CHROMIUM) ? { path: env.SLIPWAY_CHROMIUM } : { missing: `SLIPWAY_CHROMIUM=${env.SLIPWAY_CHROMIUM} is not an executable file` };
  }
  const candidates = ['/usr/bin/chromium', ...(env.PATH ?? '').split(path.delimiter).filter(Boolean).flatMap((dir) => [path.join(dir, 'chromium'), path.join(dir, 'chromium-browser')])];
  const found = candidates.find(isExecutable);
  return found
    ? { path: found }
    : { missing: 'no Chromium found (set SLIPWAY_CHROMIUM, or install Debian\'s: `npm run setup` as root, or `apt-get install chromium`)' };
}

/** launchChromium starts a headless Chromium from findChromium's answer. */
export async function launchChromium(executablePath: string): Promise<Browser> {
  // --no-sandbox: test containers often run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
