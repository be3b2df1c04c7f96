/** Window/level presets in Hounsfield units (width, centre), as radiology reading rooms commonly set them. */
export interface WindowPreset {
  key: string;
  label: string;
  width: number;
  center: number;
}

export const CT_PRESETS: readonly WindowPreset[] = [
  { key: '1', label: 'Soft tissue', width: 400, center: 40 },
  { key: '2', label: 'Lung', width: 1500, center: -600 },
  { key: '3', label: 'Bone', width: 2000, center: 300 },
  { key: '4', label: 'Brain', width: 80, center: 40 },
];

/** For images without Hounsfield units (US, XA, CR...): full range and a higher-contrast window of 8-bit data. */
export const GENERIC_PRESETS: readonly WindowPreset[] = [
  { key: '1', label: 'Full range', width: 256, center: 128 },
  { key: '2', label: 'High contrast', width: 128, center: 128 },
];
