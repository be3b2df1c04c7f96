/** Echo study layout: acquisition order, stress echo grid (PS3.3 §C.7.6.16.2... Stage and View, §C.8.5.6), R-wave alignment. */
import { cineTiming, clipDuration, type JsonDataset } from './cine.js';

const T = {
  sopClass: '00080016',
  sopInstance: '00080018',
  series: '0020000E',
  modality: '00080060',
  instanceNumber: '00200013',
  acquisitionDateTime: '0008002A',
  contentDate: '00080023',
  contentTime: '00080033',
  frames: '00280008',
  stageName: '00082120',
  stageNumber: '00082122',
  viewName: '00082127',
  viewNumber: '00082128',
  rWavePointer: '00286040',
} as const;

/** Waveform SOP classes read as ECG (PS3.4 Annex B.5): 12-lead, General ECG, Ambulatory, Hemodynamic. */
export const WAVEFORM_CLASSES: Record<string, string> = {
  '1.2.840.10008.5.1.4.1.1.9.1.1': '12-lead ECG',
  '1.2.840.10008.5.1.4.1.1.9.1.2': 'General ECG',
  '1.2.840.10008.5.1.4.1.1.9.1.3': 'Ambulatory ECG',
  '1.2.840.10008.5.1.4.1.1.9.2.1': 'Hemodynamic waveform',
  '1.2.840.10008.5.1.4.1.1.9.3.1': 'Basic cardiac electrophysiology',
};

const s = (ds: JsonDataset, tag: string): string => {
  const v = ds[tag]?.Value?.[0];
  return v === undefined || v === null ? '' : String(v);
};
const n = (ds: JsonDataset, tag: string): number | undefined => {
  const v = ds[tag]?.Value?.[0];
  return v === undefined || !Number.isFinite(Number(v)) ? undefined : Number(v);
};

export interface CardioItem {
  readonly kind: 'cine' | 'image' | 'waveform';
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly modality: string;
  readonly frames: number;
  readonly stage?: { name: string; number: number };
  readonly view?: { name: string; number: number };
  readonly metadata: JsonDataset;
}

function acquisitionKey(ds: JsonDataset): string {
  const dt = s(ds, T.acquisitionDateTime) || `${s(ds, T.contentDate)}${s(ds, T.contentTime)}`;
  return `${dt.padEnd(21, '0')}|${String(n(ds, T.instanceNumber) ?? 0).padStart(8, '0')}`;
}

/** Every instance of the study as a cardiology item, in acquisition order (date-time, then instance number). */
export function cardioItems(instances: readonly JsonDataset[]): CardioItem[] {
  return [...instances]
    .sort((a, b) => (acquisitionKey(a) < acquisitionKey(b) ? -1 : acquisitionKey(a) > acquisitionKey(b) ? 1 : 0))
    .map((ds) => {
      const frames = n(ds, T.frames) ?? 1;
      const stageName = s(ds, T.stageName);
      const viewName = s(ds, T.viewName);
      return {
        kind: WAVEFORM_CLASSES[s(ds, T.sopClass)] ? 'waveform' : frames > 1 ? 'cine' : 'image',
        seriesInstanceUid: s(ds, T.series),
        sopInstanceUid: s(ds, T.sopInstance),
        modality: s(ds, T.modality),
        frames,
        ...(stageName || n(ds, T.stageNumber) !== undefined ? { stage: { name: stageName || `Stage ${n(ds, T.stageNumber)}`, number: n(ds, T.stageNumber) ?? 0 } } : {}),
        ...(viewName || n(ds, T.viewNumber) !== undefined ? { view: { name: viewName || `View ${n(ds, T.viewNumber)}`, number: n(ds, T.viewNumber) ?? 0 } } : {}),
        metadata: ds,
      } satisfies CardioItem;
    });
}

export interface StressGrid {
  /** Stage names in stage-number order (rest first). */
  readonly stages: readonly string[];
  /** One row per view (in view-number order), one cell per stage (undefined when not acquired). */
  readonly views: readonly { readonly name: string; readonly cells: readonly (CardioItem | undefined)[] }[];
}

/** The stress echo grid from Stage Name/Number and View Name/Number, or undefined when the study is not staged. */
export function stressGrid(items: readonly CardioItem[]): StressGrid | undefined {
  const staged = items.filter((i) => i.kind === 'cine' && i.stage && i.view);
  if (staged.length === 0) return undefined;
  const stageOrder = new Map<string, number>();
  const viewOrder = new Map<string, number>();
  for (const i of staged) {
    stageOrder.set(i.stage!.name, Math.min(stageOrder.get(i.stage!.name) ?? Infinity, i.stage!.number));
    viewOrder.set(i.view!.name, Math.min(viewOrder.get(i.view!.name) ?? Infinity, i.view!.number));
  }
  const stages = [...stageOrder].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  const views = [...viewOrder]
    .sort((a, b) => a[1] - b[1])
    .map(([name]) => ({ name, cells: stages.map((stage) => staged.find((i) => i.view!.name === name && i.stage!.name === stage)) }));
  return { stages, views };
}

/**
 * The cardiac cycle of a clip from R Wave Pointer (the 1-based frames at R waves, PS3.3 §C.7.6.5) and the frame
 * timing: from the first R wave to the second, or, with one R wave, the whole clip starting at it (a clip of one
 * beat); the whole clip from its first frame without ECG trigger information. Synchronised playback loops it.
 */
export function cardiacCycle(ds: JsonDataset, frameCount?: number): { startMs: number; lengthMs: number; rWaves: number } {
  const timing = cineTiming(ds, frameCount);
  const rWaves = (ds[T.rWavePointer]?.Value ?? []).map(Number).filter((f) => Number.isInteger(f) && f >= 1 && f <= timing.offsets.length);
  const duration = clipDuration(timing);
  const first = rWaves[0];
  if (first === undefined) return { startMs: 0, lengthMs: duration, rWaves: 0 };
  const startMs = timing.offsets[first - 1]!;
  const second = rWaves.find((f) => f > first);
  return { startMs, lengthMs: second !== undefined ? timing.offsets[second - 1]! - startMs : duration, rWaves: rWaves.length };
}
