/**
 * Tokens published in this repository (deploy/api-tokens.example.yaml and
 * the docs print them), so anyone can send them: the API refuses to start
 * with any of them configured. test/unit/example-tokens.test.ts keeps this
 * list in step with every example token the repository prints.
 */

/** PUBLISHED_EXAMPLE_TOKEN_SHA256 is the sha256 (hex) of every published example token. */
export const PUBLISHED_EXAMPLE_TOKEN_SHA256: ReadonlySet<string> = new Set([
  'fb78921d8ed433fe8141a82563a267406b56da2b79674162d4b157c25f3b0c23', // slw_example_ops_change_me_before_use
  'ea31e18603229027d06ec20cf073d540c049755cec8c50bb1b164a35d6a87a44', // slw_example_ci_bot_change_me_before_use
  '76c1ba77a6e602c87ab5052a644c99859edadd734f898b400e9bdd3ba07a5cd6', // slw_example_alice_change_me_before_use
  '48ee86c25cb190254f55f74f2cbe67015886a092c68583f844895202c62dee06', // slw_example_bob_change_me_before_use
]);

/**
 * refusePublishedTokens throws, naming the users and the file, when a tokens
 * file holds a published example token. The hashes compared are public (the
 * file stores hashes, the example list is published), so no timing matters.
 */
export function refusePublishedTokens(tokenHashes: { user: string; sha256: string }[], file: string): void {
  const users = tokenHashes.filter((t) => PUBLISHED_EXAMPLE_TOKEN_SHA256.has(t.sha256.toLowerCase())).map((t) => t.user);
  if (users.length === 0) return;
  throw new Error(
    `SLIPWAY_API_TOKENS: ${file} holds published example tokens (users ${users.join(', ')}; printed in deploy/api-tokens.example.yaml and the docs, so anyone can use them); make your own tokens (docs/docker-compose.md, "API tokens") and point SLIPWAY_API_TOKENS at that file`,
  );
}
