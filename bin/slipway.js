#!/usr/bin/env node
// The `slipway` command: runs the TypeScript CLI through tsx's loader.
require('tsx/cjs');
void require('../cli/main.ts').run(process.argv);
