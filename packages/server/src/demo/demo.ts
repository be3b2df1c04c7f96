import { buildDemoStudies, type SyntheticObject } from '@atrium/dicom';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';

export interface DemoLoadResult {
  description: string;
  instances: number;
  outcome: string;
}

/**
 * Loads the builder's demo studies through the ingest pipeline, like any other import: a CT series, and one study
 * for every cardiology view (echo clip, 12-lead ECG with a long rhythm group, stress echo, XA run with its
 * hemodynamic waveform). Deterministic UIDs make a second run a no-op ("already stored").
 */
export async function loadDemo(ingest: IngestPipeline): Promise<DemoLoadResult[]> {
  const demo = buildDemoStudies();
  const groups: [string, readonly SyntheticObject[]][] = [
    ['CT chest (Demo^Ct)', demo.ct.instances],
    ['Echo clip, 60 frames (Demo^Cardio)', [demo.echo]],
    ['12-lead ECG with a long rhythm group (Demo^Cardio)', [demo.ecg]],
    ['Stress echo, 4 stages x 4 views (Demo^Stress)', demo.stressEcho.clips],
    ['XA run and hemodynamic waveform (Demo^Cath)', [demo.xa, demo.hemodynamic]],
  ];
  const results: DemoLoadResult[] = [];
  for (const [description, objects] of groups) {
    const outcomes = new Map<string, number>();
    for (const object of objects) {
      const r = await ingest.ingest(object.chunks(), { kind: 'demo', origin: description });
      outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    }
    const outcome = [...outcomes].map(([o, n]) => (o === 'identical' ? `${n} already stored` : `${n} ${o}`)).join(', ');
    results.push({ description, instances: objects.length, outcome });
  }
  return results;
}
