import { RleLossless } from '../transfer-syntax.js';
import type { SyntheticObject } from './common.js';
import type { CtSeries } from './ct-series.js';
import { buildCtSeries } from './ct-series.js';
import type { Ecg12Lead } from './ecg-12-lead.js';
import { buildEcg12Lead } from './ecg-12-lead.js';
import type { HemodynamicWaveform } from './hemodynamic-waveform.js';
import { buildHemodynamicWaveform } from './hemodynamic-waveform.js';
import type { StressEchoSet } from './stress-echo.js';
import { buildStressEcho } from './stress-echo.js';
import type { UltrasoundClip } from './ultrasound-clip.js';
import { buildUltrasoundClip } from './ultrasound-clip.js';
import type { XaRun } from './xa-run.js';
import { buildXaRun } from './xa-run.js';

export interface DemoStudies {
  /** A CT chest of patient `Demo^Ct`. */
  readonly ct: CtSeries;
  /** An echo clip (RLE Lossless) and a 12-lead ECG with a long rhythm group, two studies of patient `Demo^Cardio`. */
  readonly echo: UltrasoundClip;
  readonly ecg: Ecg12Lead;
  /** A stress echo of patient `Demo^Stress`: four stages of four views. */
  readonly stressEcho: StressEchoSet;
  /** A catheterization of patient `Demo^Cath`: an XA run and the hemodynamic waveform, one study. */
  readonly xa: XaRun;
  readonly hemodynamic: HemodynamicWaveform;
  /** Every object, for loading in one loop. */
  readonly objects: readonly SyntheticObject[];
}

/**
 * The data `atrium demo` loads: a small CT study, and one study for every cardiology view (an echo clip, a
 * 12-lead ECG with two multiplex groups, a stress echo, an XA run with its hemodynamic waveform), about 30 MB in
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
  const ecg = buildEcg12Lead({ seed, patient: cardio, heartRate: 72, rhythmGroup: {} });
  const stressEcho = buildStressEcho({ seed });
  const xa = buildXaRun({ seed });
  const hemodynamic = buildHemodynamicWaveform({ seed });
  return { ct, echo, ecg, stressEcho, xa, hemodynamic, objects: [...ct.instances, echo, ecg, ...stressEcho.clips, xa, hemodynamic] };
}
