// The chart's routes, apart from its pages so that the router does not pull the chart into the main bundle.

/** Routes of the patient chart (FHIR): `/patients` and `/patients/<id>[/<section>]`. */
export type ChartRoute = { page: 'patients' } | { page: 'patient'; patientId: string; section?: string };

export function parseChartRoute(parts: readonly string[]): ChartRoute | undefined {
  if (parts[0] !== 'patients') return undefined;
  if (parts.length === 1) return { page: 'patients' };
  if (parts[1] && parts.length <= 3) return { page: 'patient', patientId: parts[1], ...(parts[2] ? { section: parts[2] } : {}) };
  return undefined;
}
