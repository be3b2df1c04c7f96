import type { Random } from './random.js';

/** Hounsfield units of the phantom's materials, close to the values of real tissue at 120 kVp. */
export const PHANTOM_HU = {
  air: -1000,
  lung: -850,
  fat: -100,
  softTissue: 40,
  blood: 45,
  contrastAorta: 250,
  lesion: 30,
  cancellousBone: 250,
  corticalBone: 900,
  table: 150,
  /** Outside the circular reconstruction field of view: a stored value no tissue can have. */
  outsideFov: -2000,
} as const;

export interface CtPhantomSliceOptions {
  rows: number;
  columns: number;
  /** mm per pixel (square pixels). */
  pixelSpacing: number;
  /** Slice position along the patient axis, mm; the phantom is centred on z = 0. */
  z: number;
  /** Standard deviation of the image noise, HU. */
  noiseHu: number;
  random: Random;
}

/** Where the lesion is: a sphere in the right lung (patient right is -x in LPS), known to tests. */
export const PHANTOM_LESION = { x: -75, y: -15, z: 0, radius: 10 } as const;

const inEllipse = (x: number, y: number, cx: number, cy: number, a: number, b: number): boolean => {
  const dx = (x - cx) / a;
  const dy = (y - cy) / b;
  return dx * dx + dy * dy <= 1;
};

/**
 * The HU value at a point (x, y, z) in mm, patient coordinates (LPS: +x patient left, +y posterior): an axial
 * thorax with body outline, subcutaneous fat, lungs, heart, contrast-filled aorta, vertebra, sternum, ribs, the
 * table and one lung lesion. Plain geometry, so tests can ask what a pixel should be.
 */
export function phantomHu(x: number, y: number, z: number, fovRadius: number): number {
  if (x * x + y * y > fovRadius * fovRadius) return PHANTOM_HU.outsideFov;
  // The table under a supine patient.
  if (y > 140 && y < 150 && Math.abs(x) < 200) return PHANTOM_HU.table;
  if (!inEllipse(x, y, 0, 10, 170, 125)) return PHANTOM_HU.air;
  if (!inEllipse(x, y, 0, 10, 158, 113)) return PHANTOM_HU.fat;
  // Ribs: a ring of small bones inside the fat, present in every other 15 mm band along z.
  const ribBand = Math.floor((z + 1000) / 15) % 2 === 0;
  if (ribBand) {
    for (let i = 0; i < 7; i++) {
      const angle = Math.PI * (0.2 + (i * 0.7) / 6);
      for (const side of [-1, 1]) {
        if (inEllipse(x, y, side * 152 * Math.sin(angle), 10 - 108 * Math.cos(angle), 6, 6)) {
          return PHANTOM_HU.corticalBone;
        }
      }
    }
  }
  // Spine: vertebral body with a cortical rim, and the spinous process behind it.
  if (inEllipse(x, y, 0, 75, 20, 18)) return inEllipse(x, y, 0, 75, 16, 14) ? PHANTOM_HU.cancellousBone : PHANTOM_HU.corticalBone;
  if (inEllipse(x, y, 0, 108, 5, 14)) return PHANTOM_HU.corticalBone;
  if (inEllipse(x, y, 0, -100, 14, 6)) return PHANTOM_HU.corticalBone;
  if (inEllipse(x, y, 18, 40, 13, 13)) return PHANTOM_HU.contrastAorta;
  // Lungs shrink towards the ends of the thorax.
  const lungScale = Math.sqrt(Math.max(0, 1 - (z / 220) ** 2));
  const inHeart = inEllipse(x, y, 28, -25, 52, 45);
  if (inHeart) return PHANTOM_HU.blood;
  for (const side of [-1, 1]) {
    if (lungScale > 0 && inEllipse(x, y, side * 75, -8, 50 * lungScale, 72 * lungScale)) {
      const l = PHANTOM_LESION;
      const d2 = (x - l.x) ** 2 + (y - l.y) ** 2 + (z - l.z) ** 2;
      return d2 <= l.radius * l.radius ? PHANTOM_HU.lesion : PHANTOM_HU.lung;
    }
  }
  return PHANTOM_HU.softTissue;
}

/** Centre of pixel (row, column) in mm, for an image centred on the patient axis. */
export function pixelCentre(row: number, column: number, rows: number, columns: number, spacing: number): [number, number] {
  return [(column - columns / 2 + 0.5) * spacing, (row - rows / 2 + 0.5) * spacing];
}

/** One axial slice of the phantom in HU, row by row, with Gaussian-like noise (none outside the body). */
export function ctPhantomSlice(options: CtPhantomSliceOptions): Int16Array {
  const { rows, columns, pixelSpacing, z, noiseHu, random } = options;
  const fovRadius = (Math.min(rows, columns) * pixelSpacing) / 2;
  const out = new Int16Array(rows * columns);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++, i++) {
      const [x, y] = pixelCentre(r, c, rows, columns, pixelSpacing);
      const hu = phantomHu(x, y, z, fovRadius);
      const noisy = hu === PHANTOM_HU.outsideFov || hu === PHANTOM_HU.air ? hu : hu + random.normal() * noiseHu;
      out[i] = Math.round(noisy);
    }
  }
  return out;
}
