import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installRuntime } from '../../workers/runtime';

const HISTORIES = path.join(__dirname, 'histories');

// Recorded from real runs of test/integration/release.test.ts with
// SLIPWAY_RECORD_HISTORIES=1. A workflow change that would break releases
// already running makes these fail: patch() it or re-record deliberately.
// pre-lease/ holds histories from before environment leases (lock workflows),
// kept so releases started then still replay.
describe('recorded release histories replay against today\'s workflow code', () => {
  const files = fs.readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();
  let workflowBundle: WorkflowBundleWithSourceMap;

  // One bundle for every history: bundling is most of a replay's cost.
  before(async () => {
    installRuntime();
    workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows') });
  });

  it('has recorded histories to replay', () => {
    assert.ok(files.length >= 16, `expected recorded histories in ${HISTORIES}, found ${files.length}`);
  });

  for (const file of files) {
    it(`replays ${file.replace(/\.json$/, '')} without non-determinism`, async () => {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle, replayName: file }, history);
    });
  }
});
