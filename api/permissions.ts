/**
 * Per-environment permissions beyond the roles: rolling back is its own
 * permission (a releaser may not, by that alone, put an old version back in
 * prod), granted per token by `rollsBack` or the OIDC claim `slipway_rolls_back`.
 * Stopping the line (`stopsLine`) and quarantining versions (`quarantines`)
 * are grants of their own too, held by admins, and so is posting health
 * reports (`reportsHealth`, per environment), which pass bakes and canaries.
 */
import { AuthFailure, type Principal } from './auth';

/** canRollBack tells whether a principal may roll back env: admins always, others when `rollsBack` names it or "*". */
export function canRollBack(principal: Principal, env: string): boolean {
  if (principal.roles.includes('admin')) return true;
  return principal.rollsBack.includes('*') || principal.rollsBack.includes(env);
}

/** requireRollBack throws a 403 naming the missing grant when the principal may not roll back env. */
export function requireRollBack(principal: Principal, env: string): void {
  if (canRollBack(principal, env)) return;
  throw new AuthFailure(
    403,
    `${principal.user} may not roll back ${env}: rolling back needs "${env}" (or "*") in the token's rollsBack list in SLIPWAY_API_TOKENS, or in the OIDC claim slipway_rolls_back`,
  );
}

/** requireStopsLine throws a 403 naming the grant unless the principal may stop and resume the line (admins, or `stopsLine: true`). */
export function requireStopsLine(principal: Principal): void {
  if (principal.roles.includes('admin') || principal.stopsLine === true) return;
  throw new AuthFailure(403, `${principal.user} may not stop or resume the line: that needs the admin role or "stopsLine: true" on the token in SLIPWAY_API_TOKENS`);
}

/** requireQuarantines throws a 403 naming the grant unless the principal may quarantine versions (admins, or `quarantines: true`). */
export function requireQuarantines(principal: Principal): void {
  if (principal.roles.includes('admin') || principal.quarantines === true) return;
  throw new AuthFailure(403, `${principal.user} may not quarantine or unquarantine versions: that needs the admin role or "quarantines: true" on the token in SLIPWAY_API_TOKENS`);
}

/** canReportHealth tells whether a principal may post health reports for env: admins always, others when `reportsHealth` names it or "*". */
export function canReportHealth(principal: Principal, env: string): boolean {
  if (principal.roles.includes('admin')) return true;
  const grant = principal.reportsHealth ?? [];
  return grant.includes('*') || grant.includes(env);
}

/** requireReportsHealth throws a 403 naming the grant when the principal may not post health reports for env. */
export function requireReportsHealth(principal: Principal, env: string): void {
  if (canReportHealth(principal, env)) return;
  throw new AuthFailure(
    403,
    `${principal.user} may not report health for ${env}: health reports pass bakes and canary analysis, so they need "${env}" (or "*") in the token's reportsHealth list in SLIPWAY_API_TOKENS (or in the CI rule's reportsHealth in SLIPWAY_CI_OIDC_RULES, or the user's in SLIPWAY_OIDC_USERS)`,
  );
}
