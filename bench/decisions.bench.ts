/**
 * decisions benchmark: what checking a signed approval costs the workflow.
 * The workflow verifies with pure-JS Ed25519 (domain/decisions.ts, the only
 * kind the sandbox can run); the baseline is node:crypto verifying the same
 * signature over the same bytes, in the same process, in alternating batches.
 * A workflow task that handles one approval pays this once, on every replay too.
 */
import { verify } from 'node:crypto';
import { decisionSigningInput, verifyDecision } from '../domain/decisions';
import { publicKeyFromRaw, Signer } from '../lib/signing';
import { type BenchContext, type BenchReport, ms, now, ratio, summarize } from './support';

export async function decisionsBench(ctx: BenchContext): Promise<BenchReport> {
  const rounds = ctx.quick ? 20 : 100;
  const batch = 20;
  const signer = Signer.generate();
  const keys = signer.trusted();
  const spki = publicKeyFromRaw(signer.publicKey);
  const at = new Date().toISOString();
  const decisions = Array.from({ length: batch }, (_, i) =>
    signer.signDecision({ kind: 'release.approve', releaseId: `release-fraud-1.${i}.0`, stage: 'prod', approver: { user: 'alice', via: 'token' }, comment: 'looks good', issuedAt: at }),
  );
  const pure: number[] = [];
  const native: number[] = [];
  const sign: number[] = [];
  const runPure = () => {
    for (const d of decisions) {
      const t = now();
      if (!verifyDecision(d, 'release.approve', keys, { now: at }).ok) throw new Error('a valid decision did not verify');
      pure.push(now() - t);
    }
  };
  const runNative = () => {
    for (const d of decisions) {
      const t = now();
      if (!verify(null, decisionSigningInput(d.payload), spki, Buffer.from(d.signature, 'base64'))) throw new Error('node:crypto refused a valid signature');
      native.push(now() - t);
    }
  };
  runPure(); // warm-up (JIT, precomputed tables), not counted
  runNative();
  pure.length = 0;
  native.length = 0;
  for (let r = 0; r < rounds; r++) {
    // Order swapped every round so drift hits both alike.
    if (r % 2 === 0) { runPure(); runNative(); } else { runNative(); runPure(); }
    const t = now();
    signer.signDecision(decisions[r % batch]!.payload);
    sign.push(now() - t);
  }
  const p = summarize(pure);
  const n = summarize(native);
  const s = summarize(sign);
  return {
    name: 'decisions',
    rows: [
      { bench: 'decisions', measure: `verify one signed approval in the workflow, p50 (${p.n})`, slipway: ms(p.p50), baseline: ms(n.p50), ratio: ratio(p.p50, n.p50), aim: 'node:crypto verify' },
      { bench: 'decisions', measure: `verify one signed approval in the workflow, p99 (${p.n})`, slipway: ms(p.p99), baseline: ms(n.p99), ratio: ratio(p.p99, n.p99), aim: 'node:crypto verify' },
      { bench: 'decisions', measure: `API signs one decision, p50 (${s.n})`, slipway: ms(s.p50), baseline: ms(n.p50), ratio: ratio(s.p50, n.p50), aim: 'node:crypto verify' },
    ],
    notes: [
      'The workflow sandbox has no node:crypto, so each approval, rejection and start decision is verified with @noble/curves (pure JS) inside the workflow task, and again on every replay of that task. ' +
        'The baseline is node:crypto verifying the same signature over the same canonical bytes in this process.',
    ],
  };
}
