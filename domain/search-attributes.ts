/**
 * Search attributes the release workflows set, so the Temporal Web UI list can
 * filter releases (e.g. SlipwayStatus = "awaiting_approval"). The dev server
 * must register them at start; production clusters via `temporal operator`.
 * This is the one list: the workflow, the client and the dev stack read it.
 */
import { defineSearchAttributeKey } from '@temporalio/common';

/** SA_MODEL is the released model. */
export const SA_MODEL = defineSearchAttributeKey('SlipwayModel', 'KEYWORD');
/** SA_VERSION is the version being released. */
export const SA_VERSION = defineSearchAttributeKey('SlipwayVersion', 'KEYWORD');
/** SA_STAGE is the stage the release is at. */
export const SA_STAGE = defineSearchAttributeKey('SlipwayStage', 'KEYWORD');
/** SA_STATUS is the release status (e.g. awaiting_approval). */
export const SA_STATUS = defineSearchAttributeKey('SlipwayStatus', 'KEYWORD');

const ALL = [SA_MODEL, SA_VERSION, SA_STAGE, SA_STATUS];

// `temporal server start-dev --search-attribute` spells types this way.
const CLI_TYPE_NAMES = { KEYWORD: 'Keyword' } as const;

/** SEARCH_ATTRIBUTES maps each Slipway search attribute to its type as the Temporal CLI names it. */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, string>> = Object.fromEntries(ALL.map((key) => [key.name, CLI_TYPE_NAMES[key.type]]));
