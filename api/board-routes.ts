/**
 * The release board: the page itself (GET /, its script and stylesheet,
 * under a strict Content-Security-Policy) and the read routes it polls:
 * GET /board (every model × environment in one answer, with the stops in
 * force and quarantined versions), GET /board/inbox
 * (stages waiting for the caller's approval) and GET /board/me (who the
 * token is, what it may do, where the Temporal Web UI is). Every decision
 * the page offers goes through the existing routes under the caller's token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from 'mongodb';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { LineStatus } from '../client/line-controls';
import type { Pipeline } from '../domain/pipeline';
import { RETRYABLE_STATUSES } from '../domain/retry';
import { BoardReader } from '../registry/board';
import type { PipelineDoc } from '../registry/types';
import { can, type Role } from './auth';
import { buildBoard, inboxFor, type BoardRelease } from './board-view';
import { loadUiAssets } from './ui-bundle';

/** BoardSettings say where the board links to. */
export interface BoardSettings {
  /** Base URL of the Temporal Web UI (SLIPWAY_TEMPORAL_UI_URL; `slipway dev` sets its own); no links when absent. */
  temporalUiUrl?: string;
  namespace?: string;
  /** The board's OIDC login (authorization code + PKCE): the issuer and the public client id (SLIPWAY_OIDC_CLIENT_ID); token paste only when absent. */
  login?: { issuer: string; clientId: string };
}

/** BoardRouteDeps are what the board routes read and how they check callers. */
export interface BoardRouteDeps {
  db: Db;
  requireRole: (role: Role) => (req: FastifyRequest) => Promise<void>;
  withTimeout: <T>(what: string, p: Promise<T>) => Promise<T>;
  /** Stops in force and quarantined versions (client/line-controls.ts `LineControlService.status`); none when absent. */
  lines?: { status: () => Promise<LineStatus> };
  settings?: BoardSettings;
  clock?: () => Date;
}

/** BOARD_CSP is the page's policy: scripts, styles and requests only from the API's own origin, no inline anything, no framing. */
export const BOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** boardCsp is BOARD_CSP, letting the page also reach the OIDC issuer's origin (discovery and token endpoint) when the board logs in there. */
export function boardCsp(login?: { issuer: string }): string {
  if (!login) return BOARD_CSP;
  return BOARD_CSP.replace("connect-src 'self'", `connect-src 'self' ${new URL(login.issuer).origin}`);
}

const page = (reply: FastifyReply, csp: string, type: string, body: string, cache: string) =>
  reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cache)
    .type(type)
    .send(body);

/** registerBoardRoutes adds the board page and its read routes; the UI is bundled before this returns. */
export async function registerBoardRoutes(app: FastifyInstance, deps: BoardRouteDeps): Promise<void> {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const reader = new BoardReader(deps.db);
  const clock = deps.clock ?? (() => new Date());
  const assets = await loadUiAssets();
  const login = deps.settings?.login;
  const csp = boardCsp(login);

  // The page and its files carry no data: they are served without a token, and the page asks for one.
  typed.get('/', { schema: { hide: true } }, async (_req, reply) => page(reply, csp, 'text/html; charset=utf-8', assets.html, 'no-cache'));
  typed.get('/ui/board.js', { schema: { hide: true } }, async (_req, reply) => page(reply, csp, 'text/javascript; charset=utf-8', assets.js, 'public, max-age=300'));
  typed.get('/ui/board.css', { schema: { hide: true } }, async (_req, reply) => page(reply, csp, 'text/css; charset=utf-8', assets.css, 'public, max-age=300'));

  // How the page may log in; public by design (no secret: the code flow uses PKCE).
  typed.get('/board/login', {
    schema: { summary: "How the release board logs in: the OIDC issuer and public client id when SLIPWAY_OIDC_CLIENT_ID is set, else null (paste a token)", response: { 200: z.object({ oidc: z.object({ issuer: z.string(), clientId: z.string() }).nullable() }) } },
  }, async () => ({ oidc: login ? { issuer: login.issuer, clientId: login.clientId } : null }));

  const inFlight = async () => (await deps.withTimeout('registry', reader.inFlight())) as unknown as BoardRelease[];

  typed.get('/board', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'The release board: every model × environment (live version, since, health, quarantines, release in flight, approvals waiting) and the stops in force', response: { 200: z.any().describe('JSON object: generatedAt, environments[], rows[], stops[], approvalsWaiting') } },
  }, async () => {
    const [live, releases, models, line] = await Promise.all([
      deps.withTimeout('registry', reader.liveEverywhere()),
      inFlight(),
      deps.withTimeout('registry', deps.db.collection<{ _id: string }>('models').find({}, { projection: { _id: 1 } }).toArray()),
      deps.lines ? deps.withTimeout('registry', deps.lines.status()) : { stops: [], quarantines: [] },
    ]);
    return buildBoard({ live, inFlight: releases, models: models.map((m) => m._id), stops: line.stops, quarantines: line.quarantines, now: clock() });
  });

  typed.get('/board/inbox', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: "Stages waiting for the caller's approval (their approval through the API would count)", response: { 200: z.any().describe('JSON object: user, items[]') } },
  }, async (req) => {
    const releases = (await inFlight()).filter((r) => r.stages.some((s) => s.status === 'awaiting_approval'));
    const hashes = [...new Set(releases.map((r) => r.pipelineHash))];
    const docs = hashes.length === 0 ? [] : await deps.withTimeout('registry', deps.db.collection<PipelineDoc>('pipelines').find({ _id: { $in: hashes } }).toArray());
    const pipelines = new Map<string, Pipeline>(docs.map((d) => [d._id, d.pipeline]));
    return { user: req.principal!.user, items: inboxFor(req.principal!, releases, pipelines, clock()) };
  });

  typed.get('/board/me', {
    onRequest: deps.requireRole('viewer'),
    schema: { summary: 'Who the token is, what it may approve and roll back, and where the Temporal Web UI is', response: { 200: z.any().describe('JSON object') } },
  }, async (req) => {
    const p = req.principal!;
    return {
      user: p.user,
      roles: p.roles,
      approves: p.approves,
      // Admins may roll back everywhere (api/permissions.ts canRollBack).
      rollsBack: p.roles.includes('admin') ? ['*'] : p.rollsBack,
      // What the page offers; the routes check again (api/permissions.ts, the releaser role for retries).
      releases: can(p, 'releaser'),
      stopsLine: p.roles.includes('admin') || p.stopsLine === true,
      quarantines: p.roles.includes('admin') || p.quarantines === true,
      retryableStatuses: RETRYABLE_STATUSES,
      temporalUiUrl: deps.settings?.temporalUiUrl ?? null,
      namespace: deps.settings?.namespace ?? 'default',
    };
  });
}
