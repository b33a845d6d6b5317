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
}

/** HealthVerdict is one health check's answer, with evidence in words. */
export interface HealthVerdict {
  healthy: boolean;
  detail: string;
}

/** HealthSource answers health checks during bakes and canary analysis. */
export interface HealthSource {
  name: string;
  check(query: HealthQuery): Promise<HealthVerdict>;
}
