// The cardiology routes, apart from the views so that the router and the study page do not pull the cardiology
// code into the main bundle.

/**
 * Routes of the cardiology views: `/cardio/<study>` (echo layout, first clip playing, else the first waveform),
 * `/cardio/<study>/instance/<sop>` (one clip or waveform), `/cardio/<study>/series/<series>` (the first clip or
 * waveform of a series), `/cardio/<study>/stress[/<view>]` (stress echo quad).
 */
export type CardiologyRoute = { page: 'cardiology'; studyInstanceUid: string; view?: string; rest: readonly string[] };

export function parseCardiologyRoute(parts: readonly string[]): CardiologyRoute | undefined {
  if (parts[0] !== 'cardio' || !parts[1]) return undefined;
  return { page: 'cardiology', studyInstanceUid: parts[1], ...(parts[2] ? { view: parts[2] } : {}), rest: parts.slice(3) };
}

/** Modalities for which the study page offers the cardiology view. */
export const CARDIOLOGY_MODALITIES: readonly string[] = ['US', 'XA', 'ECG', 'HD', 'IVUS'];
