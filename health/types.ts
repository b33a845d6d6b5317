/** The health-source interface: what a bake watches. */

/** HealthQuery asks how a deployed version has been doing since a moment. */
export interface HealthQuery {
  model: string;
  env: string;
  version: string;
  since: string;
  maxErrorRate?: number;
  maxLatencyP99Ms?: number;
  /** Largest allowed |mean prediction − the stable baseline's| (sources that see predictions). */
  maxPredictionDrift?: number;
  /** Fewer reports (or requests, for sources that count them) than this cannot pass; absent is 0, as before the option existed. */
  minReports?: number;
}

/** HealthVerdict is one health check's answer, with evidence in words. */
export interface HealthVerdict {
  healthy: boolean;
  detail: string;
  /** True when the verdict is unhealthy only for lack of evidence (fewer than minReports), so more time may still bring it. */
  missing?: boolean;
}

/** HealthSource answers health checks during bakes and canary analysis. */
export interface HealthSource {
  name: string;
  check(query: HealthQuery): Promise<HealthVerdict>;
}
