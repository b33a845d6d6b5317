/**
 * Search attributes the release workflows set, so the Temporal Web UI list can
 * filter releases (e.g. SlipwayStatus = "awaiting_approval"). The dev server
 * must register them at start; production clusters via `temporal operator`.
 */

/** SEARCH_ATTRIBUTES maps each Slipway search attribute to its Temporal type. */
export const SEARCH_ATTRIBUTES = {
  SlipwayModel: 'Keyword',
  SlipwayVersion: 'Keyword',
  SlipwayStage: 'Keyword',
  SlipwayStatus: 'Keyword',
} as const;
