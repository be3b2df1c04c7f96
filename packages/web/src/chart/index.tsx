import type { ReactNode } from 'react';

/** Routes of the patient chart (FHIR): `/patients` and `/patients/<id>[/<section>]`. */
export type ChartRoute = { page: 'patients' } | { page: 'patient'; patientId: string; section?: string };

export function parseChartRoute(parts: readonly string[]): ChartRoute | undefined {
  if (parts[0] !== 'patients') return undefined;
  if (parts.length === 1) return { page: 'patients' };
  if (parts[1] && parts.length <= 3) return { page: 'patient', patientId: parts[1], ...(parts[2] ? { section: parts[2] } : {}) };
  return undefined;
}

export function ChartPage({ route }: { route: ChartRoute }): ReactNode {
  return <main className="page">{route.page === 'patients' ? 'Patients' : `Patient ${route.patientId}`}</main>;
}
