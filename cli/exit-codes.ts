/** ExitCode is the CLI's public exit-code contract (DESIGN.md). */
export const ExitCode = {
  ok: 0,
  /** the release ended badly: failed, rolled back, rejected, cancelled */
  releaseFailed: 1,
  badInput: 2,
  notFound: 3,
  timedOut: 4,
  unreachable: 5,
} as const;
