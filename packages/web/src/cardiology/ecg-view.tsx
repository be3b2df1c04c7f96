import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { JsonDataset } from './cine.js';
import type { CardioItem } from './echo-layout.js';
import { firstPartBody } from './frames.js';
import { caliper, decodeMultiplexGroup, ECG_PAPER, sampleAtX, waveformAnnotations, waveformGroups, waveformLayout, type EcgPanel, type MultiplexGroup } from './waveform.js';

/** Screen pixels per mm at zoom 1 (about 25 mm/s on a 96 dpi screen at 100 %). */
const BASE_PX_PER_MM = 4;
const ROW_MM = 30;
const ZOOMS = [1, 2, 5] as const;

async function loadGroup(studyInstanceUid: string, item: CardioItem): Promise<MultiplexGroup> {
  const groups = waveformGroups(item.metadata);
  // Prefer the ECG group of highest rate (the rhythm group of a 12-lead object is first).
  const group = groups[0];
  if (!group) throw new Error('Cannot show the waveform: the object has no Waveform Sequence');
  let bytes: Uint8Array;
  if (group.inline) {
    bytes = Uint8Array.from(atob(group.inline), (c) => c.charCodeAt(0));
  } else if (group.bulkDataUri) {
    const url = new URL(group.bulkDataUri, `${location.origin}/dicom-web/studies/${studyInstanceUid}/series/${item.seriesInstanceUid}/instances/${item.sopInstanceUid}/`);
    const response = await fetch(url, { headers: { accept: 'multipart/related; type="application/octet-stream"' } });
    if (!response.ok) throw new Error(`Cannot load the waveform data: HTTP ${response.status}`);
    bytes = firstPartBody(new Uint8Array(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
  } else {
    throw new Error('Cannot show the waveform: Waveform Data has neither bulk data nor inline bytes');
  }
  return decodeMultiplexGroup(group.item, bytes);
}

interface CaliperPoint {
  panel: number;
  sample: number;
}

/**
 * A waveform on ECG paper (25 mm/s, 10 mm/mV): the 3x4 layout and a lead II rhythm strip for a 12-lead ECG, one
 * row per channel otherwise; zoom; a caliper from two clicks giving the interval in ms and the amplitude in mV
 * (arrow keys move the last point one sample); the stored measurements and fiducial markers.
 */
export function EcgView({ studyInstanceUid, item }: { studyInstanceUid: string; item: CardioItem }): ReactNode {
  const [group, setGroup] = useState<MultiplexGroup | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [zoom, setZoom] = useState<number>(1);
  const [points, setPoints] = useState<CaliperPoint[]>([]);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const annotations = useMemo(() => waveformAnnotations(item.metadata as JsonDataset), [item]);

  useEffect(() => {
    setGroup(undefined);
    setError(undefined);
    loadGroup(studyInstanceUid, item).then(setGroup, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [studyInstanceUid, item]);

  const pxPerMm = BASE_PX_PER_MM * zoom;
  const layout = group && waveformLayout(group);
  const fs = group?.samplingFrequency ?? 1;
  const samplePx = (ECG_PAPER.mmPerSecond * pxPerMm) / fs;
  const panelWidth = layout ? layout.panelSamples * samplePx : 0;
  const width = layout ? Math.ceil(panelWidth * layout.columnsPerRow) : 0;
  const rowHeight = ROW_MM * pxPerMm;
  const height = layout ? Math.ceil(rowHeight * layout.rows) : 0;
  const panelX = (p: EcgPanel): number => p.column * panelWidth;
  const valueAt = (point: CaliperPoint): number => {
    const p = layout?.panels[point.panel];
    return (p && group?.channels[p.channel]?.values[point.sample]) ?? 0;
  };

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !group || !layout) return;
    ctx.fillStyle = '#fff8f5';
    ctx.fillRect(0, 0, width, height);
    for (let mm = 0; mm * pxPerMm <= Math.max(width, height); mm++) {
      ctx.strokeStyle = mm % 5 === 0 ? '#f0a0a0' : '#fadcdc';
      ctx.lineWidth = mm % 5 === 0 ? 1 : 0.5;
      const at = Math.round(mm * pxPerMm) + 0.5;
      ctx.beginPath();
      ctx.moveTo(at, 0);
      ctx.lineTo(at, height);
      ctx.moveTo(0, at);
      ctx.lineTo(width, at);
      ctx.stroke();
    }
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 1.2;
    ctx.fillStyle = '#111';
    ctx.font = `${Math.max(11, 3 * pxPerMm)}px system-ui`;
    for (const p of layout.panels) {
      const channel = group.channels[p.channel];
      const x0 = panelX(p);
      const baseline = p.row * rowHeight + rowHeight / 2;
      ctx.fillText(p.label, x0 + 4, p.row * rowHeight + 3.5 * pxPerMm);
      if (!channel) continue;
      ctx.beginPath();
      for (let s = p.startSample; s < p.endSample; s++) {
        const x = x0 + (s - p.startSample) * samplePx;
        const y = baseline - channel.values[s]! * ECG_PAPER.mmPerMillivolt * pxPerMm;
        if (s === p.startSample) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    // Stored fiducial markers under the rhythm strip (12-lead) or the first row.
    const strip = layout.panels[layout.twelveLead ? 12 : 0]!;
    ctx.fillStyle = '#2060c0';
    for (const a of annotations) {
      for (const s of a.samples) {
        if (s < strip.startSample || s >= strip.endSample) continue;
        const x = panelX(strip) + (s - strip.startSample) * samplePx;
        ctx.fillRect(x, (strip.row + 1) * rowHeight - 2 * pxPerMm, 1, 2 * pxPerMm);
      }
    }
    // Caliper.
    ctx.strokeStyle = '#0070ff';
    ctx.lineWidth = 1;
    for (const point of points) {
      const p = layout.panels[point.panel]!;
      const x = panelX(p) + (point.sample - p.startSample) * samplePx + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, p.row * rowHeight);
      ctx.lineTo(x, (p.row + 1) * rowHeight);
      ctx.stroke();
    }
  }, [group, layout, width, height, pxPerMm, rowHeight, samplePx, panelWidth, points, annotations]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      event.preventDefault();
      setPoints((list) => {
        const last = list[list.length - 1];
        if (!last) return list;
        const p = layout?.panels[last.panel];
        const sample = Math.max(p?.startSample ?? 0, Math.min((p?.endSample ?? 1) - 1, last.sample + (event.key === 'ArrowRight' ? 1 : -1)));
        return [...list.slice(0, -1), { panel: last.panel, sample }];
      });
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [layout]);

  if (error) return <p className="error" role="alert">{error}</p>;
  if (!group || !layout) return <p className="muted">Loading waveform…</p>;

  const reading = points.length === 2 ? caliper({ sample: points[0]!.sample, mv: valueAt(points[0]!) }, { sample: points[1]!.sample, mv: valueAt(points[1]!) }, fs) : undefined;
  const unit = group.channels[layout.panels[points[0]?.panel ?? 0]?.channel ?? 0]?.unit ?? 'mV';

  return (
    <section className="cardio-ecg" data-testid="ecg-view">
      <div className="cardio-controls">
        <strong>{group.label || 'Waveform'}</strong>
        <span className="muted">
          {group.channels.length} channels · {fs} Hz · {(group.numberOfSamples / fs).toFixed(1)} s · 25 mm/s, 10 mm/mV
        </span>
        <label>
          Zoom{' '}
          <select value={zoom} onChange={(e) => setZoom(Number(e.target.value))} data-testid="ecg-zoom">
            {ZOOMS.map((z) => (
              <option key={z} value={z}>
                {z}x
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setPoints([])}>
          Clear caliper
        </button>
        <span data-testid="ecg-caliper" data-interval-ms={reading?.intervalMs ?? ''} data-amplitude={reading?.amplitudeMv ?? ''}>
          {reading
            ? `${reading.intervalMs.toFixed(0)} ms · ${reading.amplitudeMv.toFixed(2)} ${unit} · ${reading.rateBpm.toFixed(0)} /min`
            : 'Click two points for a caliper (← → move the last point by one sample)'}
        </span>
      </div>
      <div className="cardio-ecg-scroll">
        <canvas
          ref={canvasRef}
          width={width}
          height={height}
          data-testid="ecg-canvas"
          data-px-per-mm={pxPerMm}
          data-sampling-frequency={fs}
          data-row-height={rowHeight}
          data-panel-width={panelWidth}
          onClick={(event) => {
            const rect = event.currentTarget.getBoundingClientRect();
            const x = event.clientX - rect.left;
            const y = event.clientY - rect.top;
            const row = Math.floor(y / rowHeight);
            const column = layout.columnsPerRow === 1 || (layout.twelveLead && row === 3) ? 0 : Math.floor(x / panelWidth);
            const panelIndex = layout.panels.findIndex((p) => p.row === row && p.column === column);
            const panel = layout.panels[panelIndex];
            if (!panel) return;
            const sample = Math.min(panel.endSample - 1, sampleAtX(x - panelX(panel), pxPerMm, fs, panel.startSample));
            setPoints((list) => [...(list.length >= 2 ? [] : list), { panel: panelIndex, sample }]);
          }}
        />
      </div>
      <h3>Stored measurements</h3>
      <ul className="cardio-annotations" data-testid="ecg-annotations">
        {annotations
          .filter((a) => a.value !== undefined)
          .map((a, i) => (
            <li key={i}>
              {a.label}: {a.value} {a.unit}
            </li>
          ))}
        <li className="muted">{annotations.filter((a) => a.value === undefined).length} fiducial markers (blue ticks on the rhythm strip)</li>
      </ul>
    </section>
  );
}
