/**
 * Waveform decoding (PS3.3 §C.10.9 Waveform Module, §C.10.10 Waveform Annotation) and the ECG paper layout. Pure:
 * runs in the browser and in node tests.
 */
import type { JsonDataset } from './cine.js';

const T = {
  waveformSequence: '54000100',
  channels: '003A0005',
  samples: '003A0010',
  samplingFrequency: '003A001A',
  groupLabel: '003A0020',
  channelDefinitions: '003A0200',
  channelLabel: '003A0203',
  channelSource: '003A0208',
  sensitivity: '003A0210',
  sensitivityUnits: '003A0211',
  correction: '003A0212',
  baseline: '003A0213',
  bitsAllocated: '54001004',
  interpretation: '54001006',
  waveformData: '54001010',
  annotations: '0040B020',
  conceptName: '0040A043',
  numericValue: '0040A30A',
  units: '004008EA',
  text: '00700006',
  samplePositions: '0040A132',
  rangeType: '0040A130',
  channelsRef: '0040A0B0',
  codeValue: '00080100',
  codeMeaning: '00080104',
} as const;

function items(ds: JsonDataset | undefined, tag: string): JsonDataset[] {
  return (ds?.[tag]?.Value ?? []) as JsonDataset[];
}
function num(ds: JsonDataset | undefined, tag: string): number | undefined {
  const v = ds?.[tag]?.Value?.[0];
  const n = Number(v);
  return v === undefined || v === null || !Number.isFinite(n) ? undefined : n;
}
function str(ds: JsonDataset | undefined, tag: string): string {
  const v = ds?.[tag]?.Value?.[0];
  return v === undefined || v === null ? '' : String(v);
}

/** A waveform decoding failure, coded like the rest of Atrium. */
export class WaveformError extends Error {
  readonly code = 'ATRIUM_ERR_WAVEFORM_DECODE';
}

export interface WaveformChannel {
  readonly label: string;
  /** The unit of `values`: mV for µV, mV or V sensitivities, else the Channel Sensitivity Units (`mmHg` for `mm[Hg]`). */
  readonly unit: string;
  /** Samples in physical units: stored × sensitivity × correction + baseline. */
  readonly values: Float64Array;
}

export interface MultiplexGroup {
  readonly label: string;
  readonly samplingFrequency: number;
  readonly numberOfSamples: number;
  readonly channels: readonly WaveformChannel[];
}

/** The multiplex groups of a waveform object's metadata with where each one's samples are. */
export function waveformGroups(instance: JsonDataset): { item: JsonDataset; bulkDataUri?: string; inline?: string }[] {
  return items(instance, T.waveformSequence).map((item) => {
    const data = item[T.waveformData];
    return { item, ...(data?.BulkDataURI ? { bulkDataUri: data.BulkDataURI } : {}), ...(data?.InlineBinary ? { inline: data.InlineBinary } : {}) };
  });
}

/** UCUM codes shown as people write them; others as coded. */
const UNIT_DISPLAY: Record<string, string> = { 'mm[Hg]': 'mmHg', 'cm[H2O]': 'cmH2O', Cel: '°C', '[degF]': '°F', 'L/min': 'L/min', '%': '%' };

function unitScale(code: string): { unit: string; scale: number } {
  if (code === 'uV') return { unit: 'mV', scale: 0.001 };
  if (code === 'mV') return { unit: 'mV', scale: 1 };
  if (code === 'V') return { unit: 'mV', scale: 1000 };
  return { unit: UNIT_DISPLAY[code] ?? (code || 'units'), scale: 1 };
}

/**
 * Decodes one multiplex group: samples are interleaved by channel (PS3.3 §C.10.9.1.6), little endian, of Waveform
 * Bits Allocated and Sample Interpretation (SS, US, SB, UB); each channel is scaled by its sensitivity, correction
 * factor and baseline (§C.10.9.1.4.3), in mV for electrical channels.
 */
export function decodeMultiplexGroup(item: JsonDataset, bytes: Uint8Array): MultiplexGroup {
  const channelCount = num(item, T.channels) ?? 0;
  const samples = num(item, T.samples) ?? 0;
  const fs = num(item, T.samplingFrequency) ?? 0;
  const bits = num(item, T.bitsAllocated) ?? 16;
  const interpretation = str(item, T.interpretation) || 'SS';
  const definitions = items(item, T.channelDefinitions);
  if (channelCount < 1 || samples < 1 || fs <= 0) {
    throw new WaveformError(`Cannot read waveform group '${str(item, T.groupLabel)}': ${channelCount} channels, ${samples} samples at ${fs} Hz`);
  }
  const size = bits / 8;
  const needed = channelCount * samples * size;
  if (![8, 16, 32].includes(bits) || bytes.byteLength < needed) {
    throw new WaveformError(`Cannot read waveform group '${str(item, T.groupLabel)}': ${bytes.byteLength} bytes, ${needed} needed for ${channelCount} channels of ${samples} ${bits}-bit samples`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (i: number): number => {
    const o = i * size;
    if (bits === 8) return interpretation === 'SB' ? view.getInt8(o) : view.getUint8(o);
    if (bits === 16) return interpretation === 'US' ? view.getUint16(o, true) : view.getInt16(o, true);
    return interpretation === 'UL' ? view.getUint32(o, true) : view.getInt32(o, true);
  };
  const channels: WaveformChannel[] = [];
  for (let c = 0; c < channelCount; c++) {
    const def = definitions[c];
    const source = items(def, T.channelSource)[0];
    const label = str(def, T.channelLabel) || str(source, T.codeMeaning) || `Channel ${c + 1}`;
    const sensitivity = num(def, T.sensitivity) ?? 1;
    const correction = num(def, T.correction) ?? 1;
    const baseline = num(def, T.baseline) ?? 0;
    const { unit, scale } = unitScale(str(items(def, T.sensitivityUnits)[0], T.codeValue));
    const values = new Float64Array(samples);
    for (let s = 0; s < samples; s++) values[s] = (read(s * channelCount + c) * sensitivity * correction + baseline) * scale;
    channels.push({ label, unit, values });
  }
  return { label: str(item, T.groupLabel), samplingFrequency: fs, numberOfSamples: samples, channels };
}

export interface WaveformAnnotation {
  /** A measurement ("QT duration, global": 400 ms) or a marker ("T end" at a sample). */
  readonly label: string;
  readonly value?: number;
  readonly unit?: string;
  /** 0-based sample indexes (the stored positions count from 1). */
  readonly samples: readonly number[];
  /** 1-based multiplex group the annotation refers to (Referenced Waveform Channels), 1 when not given. */
  readonly group: number;
  /** 1-based channel within the group; 0 for every channel. */
  readonly channel: number;
}

/** The Waveform Annotation Sequence: coded measurements with values, and text markers at sample positions. */
export function waveformAnnotations(instance: JsonDataset): WaveformAnnotation[] {
  return items(instance, T.annotations).map((a) => {
    const concept = items(a, T.conceptName)[0];
    const value = num(a, T.numericValue);
    const unit = str(items(a, T.units)[0], T.codeValue);
    const samples = (a[T.samplePositions]?.Value ?? []).map((v) => Number(v) - 1);
    // Referenced Waveform Channels: pairs of (multiplex group, channel), both 1-based, channel 0 for all (§C.10.10.1.1).
    const [group, channel] = (a[T.channelsRef]?.Value ?? []).map(Number);
    return {
      label: str(a, T.text) || str(concept, T.codeMeaning),
      ...(value !== undefined ? { value } : {}),
      ...(unit ? { unit: UNIT_DISPLAY[unit] ?? unit } : {}),
      samples,
      group: group !== undefined && group > 0 ? group : 1,
      channel: channel ?? 0,
    };
  });
}

/** Paper speed and gain of the standard ECG. */
export const ECG_PAPER = { mmPerSecond: 25, mmPerMillivolt: 10 } as const;

export interface EcgPanel {
  readonly label: string;
  /** Index into the group's channels, or -1 when the lead is absent. */
  readonly channel: number;
  readonly row: number;
  readonly column: number;
  readonly startSample: number;
  readonly endSample: number;
}

const STANDARD_3X4 = [
  ['I', 'aVR', 'V1', 'V4'],
  ['II', 'aVL', 'V2', 'V5'],
  ['III', 'aVF', 'V3', 'V6'],
] as const;

function leadIndex(labels: readonly string[], lead: string): number {
  const norm = (s: string): string => s.toLowerCase().replace(/^lead\s+/, '').replace(/,.*$/, '').trim();
  return labels.findIndex((l) => norm(l) === lead.toLowerCase());
}

/**
 * The standard 3x4 layout: three rows of four 2.5 s columns (I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6), each
 * column a consecutive quarter of 10 s from `startSample`, plus a rhythm strip of lead II (row 3) over those 10 s.
 */
export function ecg3x4Layout(labels: readonly string[], samplingFrequency: number, numberOfSamples: number, startSample = 0): EcgPanel[] {
  const span = Math.min(numberOfSamples - startSample, Math.round(10 * samplingFrequency));
  const quarter = Math.floor(span / 4);
  const panels: EcgPanel[] = [];
  STANDARD_3X4.forEach((row, r) =>
    row.forEach((lead, c) =>
      panels.push({ label: lead, channel: leadIndex(labels, lead), row: r, column: c, startSample: startSample + c * quarter, endSample: startSample + (c + 1) * quarter }),
    ),
  );
  panels.push({ label: 'II', channel: leadIndex(labels, 'II'), row: 3, column: 0, startSample, endSample: startSample + span });
  return panels;
}

export interface WaveformLayout {
  readonly panels: EcgPanel[];
  readonly rows: number;
  readonly columnsPerRow: number;
  /** Samples across one panel column. */
  readonly panelSamples: number;
  readonly twelveLead: boolean;
}

/** Pages of 10 s a group is shown in: paper shows 10 s at a time, longer groups are paged. */
export function waveformPages(group: MultiplexGroup): number {
  return Math.max(1, Math.ceil(group.numberOfSamples / Math.round(10 * group.samplingFrequency)));
}

/**
 * The paper layout of a multiplex group for 10 s page `page`: the 3x4 layout plus rhythm strip when all 12
 * standard leads are there, otherwise one row per channel (hemodynamic, rhythm groups, general ECG with fewer
 * leads).
 */
export function waveformLayout(group: MultiplexGroup, page = 0): WaveformLayout {
  const labels = group.channels.map((c) => c.label);
  const pageSamples = Math.round(10 * group.samplingFrequency);
  const start = Math.min(Math.max(0, page), waveformPages(group) - 1) * pageSamples;
  const standard = ecg3x4Layout(labels, group.samplingFrequency, group.numberOfSamples, start);
  if (standard.filter((p) => p.channel >= 0).length >= 13) {
    return { panels: standard, rows: 4, columnsPerRow: 4, panelSamples: standard[0]!.endSample - standard[0]!.startSample, twelveLead: true };
  }
  const span = Math.min(group.numberOfSamples - start, pageSamples);
  const panels = group.channels.map((c, i) => ({ label: c.label, channel: i, row: i, column: 0, startSample: start, endSample: start + span }));
  // Every page is as wide as a full one, so paging does not change the paper's scale.
  return { panels, rows: panels.length, columnsPerRow: 1, panelSamples: Math.min(group.numberOfSamples, pageSamples), twelveLead: false };
}

/** How a channel's values map to height on the paper. */
export interface VerticalScale {
  /** The value drawn at the middle of the row. */
  readonly centre: number;
  /** Units of the channel per mm of paper (0.1 mV/mm on ECG paper). */
  readonly unitsPerMm: number;
  /** Values labelled on the row (none for mV: the ECG grid is the scale). */
  readonly ticks: readonly number[];
}

function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const m = rough / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/**
 * The vertical scale of a channel in a row `rowMm` high: 10 mm/mV for electrical channels, whatever the values;
 * for others (pressures in mmHg, saturation, temperature) a range of round numbers covering the channel's values
 * over the whole recording, so the scale holds when paging.
 */
export function verticalScale(channel: WaveformChannel, rowMm: number): VerticalScale {
  if (channel.unit === 'mV') return { centre: 0, unitsPerMm: 1 / ECG_PAPER.mmPerMillivolt, ticks: [] };
  let min = Infinity;
  let max = -Infinity;
  for (const v of channel.values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min)) return { centre: 0, unitsPerMm: 1, ticks: [] };
  const step = niceStep(Math.max(max - min, Math.abs(max) * 1e-3, 1e-6) / 4);
  const low = Math.floor(min / step) * step;
  const high = Math.max(Math.ceil(max / step) * step, low + step);
  const ticks: number[] = [];
  for (let t = low; t <= high + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  // 3 mm free above and below the range.
  return { centre: (low + high) / 2, unitsPerMm: (high - low) / Math.max(1, rowMm - 6), ticks };
}

/** Lowest, highest and mean value of samples [start, end): systolic, diastolic and mean for a pressure. */
export function channelStatistics(values: Float64Array, start = 0, end = values.length): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: end > start ? sum / (end - start) : Number.NaN };
}

export interface CaliperReading {
  readonly intervalMs: number;
  readonly amplitudeMv: number;
  /** 60000 / interval, for an RR caliper. */
  readonly rateBpm: number;
}

/** Caliper between two points (sample index, value in mV): the interval in ms and the amplitude difference in mV. */
export function caliper(a: { sample: number; mv: number }, b: { sample: number; mv: number }, samplingFrequency: number): CaliperReading {
  const intervalMs = (Math.abs(b.sample - a.sample) * 1000) / samplingFrequency;
  return { intervalMs, amplitudeMv: b.mv - a.mv, rateBpm: intervalMs > 0 ? 60000 / intervalMs : 0 };
}

/** The sample nearest to x on paper, given pixels per mm and the panel's first sample. */
export function sampleAtX(x: number, pxPerMm: number, samplingFrequency: number, startSample = 0): number {
  return startSample + Math.round((x / pxPerMm / ECG_PAPER.mmPerSecond) * samplingFrequency);
}

/**
 * Pixels per mm of paper that fit a page of paper (`widthMm` x `heightMm`) in a box of `width` x `height` pixels,
 * rounded down to 1/100 so the scale shown and used is the scale drawn; never below `minimum`, where the page
 * scrolls in its box rather than becoming unreadable.
 */
export function fitPxPerMm(box: { width: number; height: number }, paper: { widthMm: number; heightMm: number }, minimum = 2): number {
  const fit = Math.min(box.width / paper.widthMm, box.height / paper.heightMm);
  return Number.isFinite(fit) ? Math.max(minimum, Math.floor(fit * 100) / 100) : minimum;
}
