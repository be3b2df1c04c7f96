import type { ReactNode } from 'react';

/** Routes of the cardiology views: `/cardio/<study>` (echo layout, ECG, stress echo). */
export type CardiologyRoute = { page: 'cardiology'; studyInstanceUid: string; view?: string; rest: readonly string[] };

export function parseCardiologyRoute(parts: readonly string[]): CardiologyRoute | undefined {
  if (parts[0] !== 'cardio' || !parts[1]) return undefined;
  return { page: 'cardiology', studyInstanceUid: parts[1], ...(parts[2] ? { view: parts[2] } : {}), rest: parts.slice(3) };
}

export function CardiologyPage({ route }: { route: CardiologyRoute }): ReactNode {
  return <main className="page">Cardiology {route.studyInstanceUid}</main>;
}
