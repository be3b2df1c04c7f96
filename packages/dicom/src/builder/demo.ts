import { RleLossless } from '../transfer-syntax.js';
import type { SyntheticObject } from './common.js';
import type { CtSeries } from './ct-series.js';
import { buildCtSeries } from './ct-series.js';
import type { Ecg12Lead } from './ecg-12-lead.js';
import { buildEcg12Lead } from './ecg-12-lead.js';
import type { UltrasoundClip } from './ultrasound-clip.js';
import { buildUltrasoundClip } from './ultrasound-clip.js';

export interface DemoStudies {
  /** A CT chest of patient `Demo^Ct`. */
  readonly ct: CtSeries;
  /** An echo clip (RLE Lossless) and a 12-lead ECG, two studies of patient `Demo^Cardio`. */
  readonly echo: UltrasoundClip;
  readonly ecg: Ecg12Lead;
  /** Every object, for loading in one loop. */
  readonly objects: readonly SyntheticObject[];
}

/**
 * The data `atrium demo` loads: a small CT study, an echo study with one clip and an ECG study, about 10 MB in
 * all. Deterministic: loading twice stores the same instances.
 */
export function buildDemoStudies(options: { seed?: number } = {}): DemoStudies {
  const seed = options.seed ?? 1;
  const ct = buildCtSeries({ seed, slices: 12 });
  const cardio = {
    patientName: 'Demo^Cardio',
    patientId: 'ATR-CARDIO-0001',
    issuerOfPatientId: 'ATRIUM',
    patientBirthDate: '19580212',
    patientSex: 'M' as const,
  };
  const echo = buildUltrasoundClip({ seed, patient: cardio, frames: 60, transferSyntaxUid: RleLossless });
  const ecg = buildEcg12Lead({ seed, patient: cardio, heartRate: 72 });
  return { ct, echo, ecg, objects: [...ct.instances, echo, ecg] };
}
