/**
 * Calibrated measurements: ultrasound regions (PS3.3 §C.8.5.5 Sequence of Ultrasound Regions) and XA pixel
 * spacing at the isocentre (PS3.3 §C.8.7.1 Imager Pixel Spacing, §C.8.19.6 XA geometry), or a user calibration.
 */
import type { JsonDataset } from './cine.js';

const T = {
  regions: '00186011',
  spatialFormat: '00186012',
  dataType: '00186014',
  minX0: '00186018',
  minY0: '0018601A',
  maxX1: '0018601C',
  maxY1: '0018601E',
  unitsX: '00186024',
  unitsY: '00186026',
  deltaX: '0018602C',
  deltaY: '0018602E',
  imagerPixelSpacing: '00181164',
  pixelSpacing: '00280030',
  sourceToDetector: '00181110',
  sourceToPatient: '00181111',
  magnification: '00181114',
} as const;

/** Physical Units X/Y Direction (PS3.3 §C.8.5.5.1.15). */
const UNITS: Record<number, string> = { 0: '', 1: '%', 2: 'dB', 3: 'cm', 4: 's', 5: 'Hz', 6: 'dB/s', 7: 'cm/s', 8: 'cm²', 9: 'cm²/s', 0xa: 'cm³', 0xb: 'cm³/s', 0xc: '°' };

export interface UsRegion {
  readonly minX0: number;
  readonly minY0: number;
  readonly maxX1: number;
  readonly maxY1: number;
  readonly unitX: string;
  readonly unitY: string;
  readonly deltaX: number;
  readonly deltaY: number;
  readonly spatialFormat: number;
  readonly dataType: number;
}

function num(ds: JsonDataset | undefined, tag: string, index = 0): number | undefined {
  const v = ds?.[tag]?.Value?.[index];
  const n = Number(v);
  return v === undefined || v === null || !Number.isFinite(n) ? undefined : n;
}

export function ultrasoundRegions(ds: JsonDataset): UsRegion[] {
  return ((ds[T.regions]?.Value ?? []) as JsonDataset[]).map((r) => ({
    minX0: num(r, T.minX0) ?? 0,
    minY0: num(r, T.minY0) ?? 0,
    maxX1: num(r, T.maxX1) ?? 0,
    maxY1: num(r, T.maxY1) ?? 0,
    unitX: UNITS[num(r, T.unitsX) ?? 0] ?? '',
    unitY: UNITS[num(r, T.unitsY) ?? 0] ?? '',
    deltaX: Math.abs(num(r, T.deltaX) ?? 0),
    deltaY: Math.abs(num(r, T.deltaY) ?? 0),
    spatialFormat: num(r, T.spatialFormat) ?? 0,
    dataType: num(r, T.dataType) ?? 0,
  }));
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Index of the region containing the image point (pixel column x, row y), -1 if none. */
export function regionAt(regions: readonly UsRegion[], p: Point): number {
  return regions.findIndex((r) => p.x >= r.minX0 && p.x <= r.maxX1 + 1 && p.y >= r.minY0 && p.y <= r.maxY1 + 1);
}

export type Measurement =
  | { readonly ok: true; readonly value: number; readonly unit: string; readonly text: string; readonly region?: number }
  | { readonly ok: false; readonly message: string };

const fmt = (value: number, unit: string): string => `${value.toFixed(value < 10 ? 2 : 1)} ${unit}`;

/**
 * A distance in an ultrasound image. In a 2D region (cm both ways) it is the Euclidean distance in cm; in a
 * spectral/M-mode region (time × cm or cm/s) the horizontal and vertical parts are reported in their units. Both
 * ends must lie in the same region: a measurement crossing regions is refused.
 */
export function usDistance(regions: readonly UsRegion[], a: Point, b: Point): Measurement {
  if (regions.length === 0) return { ok: false, message: 'Cannot measure: the image has no calibrated ultrasound region' };
  const ra = regionAt(regions, a);
  const rb = regionAt(regions, b);
  if (ra < 0 || rb < 0) return { ok: false, message: 'Cannot measure: the line leaves the calibrated ultrasound regions' };
  if (ra !== rb) return { ok: false, message: `Cannot measure across ultrasound regions ${ra + 1} and ${rb + 1}: each region has its own scale` };
  const r = regions[ra]!;
  const dx = (b.x - a.x) * r.deltaX;
  const dy = (b.y - a.y) * r.deltaY;
  if (r.unitX === r.unitY && r.unitX) {
    const value = Math.hypot(dx, dy);
    return { ok: true, value, unit: r.unitX, text: fmt(value, r.unitX), region: ra };
  }
  // Doppler or M-mode: x is time, y is velocity or depth.
  const parts = [r.unitX ? fmt(Math.abs(dx), r.unitX) : '', r.unitY ? fmt(Math.abs(dy), r.unitY) : ''].filter(Boolean);
  if (parts.length === 0) return { ok: false, message: `Cannot measure in ultrasound region ${ra + 1}: it has no physical units` };
  return { ok: true, value: r.unitX ? Math.abs(dx) : Math.abs(dy), unit: r.unitX || r.unitY, text: parts.join(', '), region: ra };
}

/** Area of a polygon (image points) in a 2D region, in cm²; refused when the points span regions. */
export function usArea(regions: readonly UsRegion[], points: readonly Point[]): Measurement {
  const ids = new Set(points.map((p) => regionAt(regions, p)));
  if (ids.has(-1) || ids.size !== 1) return { ok: false, message: 'Cannot measure an area across ultrasound regions: each region has its own scale' };
  const r = regions[[...ids][0]!]!;
  if (r.unitX !== 'cm' || r.unitY !== 'cm') return { ok: false, message: 'Cannot measure an area: the region is not a 2D image in cm' };
  let twice = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const q = points[(i + 1) % points.length]!;
    twice += p.x * q.y - q.x * p.y;
  }
  const value = (Math.abs(twice) / 2) * r.deltaX * r.deltaY;
  return { ok: true, value, unit: 'cm²', text: fmt(value, 'cm²') };
}

export interface XaCalibration {
  /** mm per pixel at the isocentre (row, column). */
  readonly mmPerPixel: number;
  readonly source: 'isocentre' | 'detector' | 'pixel-spacing' | 'user';
}

/**
 * XA calibration: Imager Pixel Spacing divided by the geometric magnification (Distance Source to Detector /
 * Distance Source to Patient, or Estimated Radiographic Magnification Factor) gives mm at the isocentre.
 */
export function xaCalibration(ds: JsonDataset): XaCalibration | undefined {
  const imager = num(ds, T.imagerPixelSpacing);
  const sid = num(ds, T.sourceToDetector);
  const sod = num(ds, T.sourceToPatient);
  if (imager && sid && sod) return { mmPerPixel: (imager * sod) / sid, source: 'isocentre' };
  const factor = num(ds, T.magnification);
  if (imager && factor) return { mmPerPixel: imager / factor, source: 'isocentre' };
  if (imager) return { mmPerPixel: imager, source: 'detector' };
  const spacing = num(ds, T.pixelSpacing);
  return spacing ? { mmPerPixel: spacing, source: 'pixel-spacing' } : undefined;
}

/** A user calibration on a known object, e.g. a 6 F catheter (2.0 mm) spanning `pixels`. */
export function userCalibration(pixels: number, knownMm: number): XaCalibration {
  if (!(pixels > 0) || !(knownMm > 0)) throw new RangeError(`Cannot calibrate on '${knownMm} mm over ${pixels} px': both must be positive`);
  return { mmPerPixel: knownMm / pixels, source: 'user' };
}

/** French catheter sizes are 1/3 mm each. */
export const frenchToMm = (french: number): number => french / 3;

export function xaDistance(cal: XaCalibration | undefined, a: Point, b: Point): Measurement {
  if (!cal) return { ok: false, message: 'Cannot measure: the image has no pixel spacing; calibrate on a known object first' };
  const value = Math.hypot(b.x - a.x, b.y - a.y) * cal.mmPerPixel;
  return { ok: true, value, unit: 'mm', text: fmt(value, 'mm') };
}
