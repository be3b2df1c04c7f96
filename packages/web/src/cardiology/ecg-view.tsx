import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { JsonDataset } from './cine.js';
import type { CardioItem } from './echo-layout.js';
import { firstPartBody } from './frames.js';
import {
  caliper,
  channelStatistics,
  decodeMultiplexGroup,
  ECG_PAPER,
  fitPxPerMm,
  sampleAtX,
  verticalScale,
  waveformAnnotations,
  waveformGroups,
  waveformLayout,
  waveformPages,
  type EcgPanel,
  type MultiplexGroup,
} from './waveform.js';

/** Screen pixels per mm at zoom 1 (about paper size, 25 mm/s, on a 96 dpi screen at 100 %). */
const BASE_PX_PER_MM = 4;
const ROW_MM = 30;
const ZOOMS = [1, 2, 5] as const;
type Zoom = 'fit' | (typeof ZOOMS)[number];
/** Room kept under the waveform for the channel table and the stored measurements (scrolling inside). */
const DETAILS_MIN_PX = 120;
/** The waveform box's border, top and bottom or left and right. */
const BOX_BORDER_PX = 2;
/** The bottom padding of the page (.cardio in cardiology.css), under the view. */
const PAGE_BOTTOM_PX = 12;
/** Below this the view stops shrinking with the window and the page scrolls. */
const MIN_VIEW_PX = 420;

/** Every multiplex group of the object, each from its own bulk data (or inline bytes), decoded. */
async function loadGroups(studyInstanceUid: string, item: CardioItem): Promise<MultiplexGroup[]> {
  const groups = waveformGroups(item.metadata);
  if (groups.length === 0) throw new Error('Cannot show the waveform: the object has no Waveform Sequence');
  return Promise.all(
    groups.map(async (group, index) => {
      let bytes: Uint8Array;
      if (group.inline) {
        bytes = Uint8Array.from(atob(group.inline), (c) => c.charCodeAt(0));
      } else if (group.bulkDataUri) {
        const url = new URL(group.bulkDataUri, `${location.origin}/dicom-web/studies/${studyInstanceUid}/series/${item.seriesInstanceUid}/instances/${item.sopInstanceUid}/`);
        const response = await fetch(url, { headers: { accept: 'multipart/related; type="application/octet-stream"' } });
        if (!response.ok) throw new Error(`Cannot load the data of waveform group ${index + 1}: HTTP ${response.status}`);
        bytes = firstPartBody(new Uint8Array(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      } else {
        throw new Error(`Cannot show waveform group ${index + 1}: Waveform Data has neither bulk data nor inline bytes`);
      }
      return decodeMultiplexGroup(group.item, bytes);
    }),
  );
}

interface CaliperPoint {
  panel: number;
  sample: number;
}

const fixed = (v: number, unit: string): string => v.toFixed(unit === 'mV' ? 2 : 1);

function groupTitle(group: MultiplexGroup, index: number): string {
  return `${group.label || `Group ${index + 1}`} · ${group.channels.length} ch · ${group.samplingFrequency} Hz · ${(group.numberOfSamples / group.samplingFrequency).toFixed(1)} s`;
}

/**
 * A waveform on ECG paper (25 mm/s): the 3x4 layout and a lead II rhythm strip for a 12-lead group, one row per
 * channel otherwise, electrical channels at 10 mm/mV and others (pressures) on a labelled scale in their own
 * units; every multiplex group of the object, chosen with buttons, in pages of 10 s; fitted to the window (the
 * page does not scroll) or zoomed inside its box; a caliper from two
 * clicks giving the interval in ms and the amplitude (arrow keys move the last point one sample); each channel's
 * lowest, highest and mean value; the stored measurements and fiducial markers.
 */
export function EcgView({ studyInstanceUid, item }: { studyInstanceUid: string; item: CardioItem }): ReactNode {
  const [groups, setGroups] = useState<MultiplexGroup[] | undefined>();
  const [groupIndex, setGroupIndex] = useState(0);
  const [page, setPage] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [zoom, setZoom] = useState<Zoom>('fit');
  const [points, setPoints] = useState<CaliperPoint[]>([]);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [view, setView] = useState<HTMLElement | null>(null);
  const [viewHeight, setViewHeight] = useState<number>();
  const [stage, setStage] = useState<HTMLDivElement | null>(null);
  const [stageSize, setStageSize] = useState<{ width: number; height: number }>();
  const annotations = useMemo(() => waveformAnnotations(item.metadata as JsonDataset), [item]);

  useEffect(() => {
    setGroups(undefined);
    setGroupIndex(0);
    setPage(0);
    setError(undefined);
    loadGroups(studyInstanceUid, item).then(setGroups, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [studyInstanceUid, item]);
  useEffect(() => setPoints([]), [groupIndex, page]);

  // The view takes the window's height below where it starts, so the page does not scroll.
  useLayoutEffect(() => {
    if (!view) return;
    const measure = () => setViewHeight(Math.max(MIN_VIEW_PX, Math.floor(window.innerHeight - view.getBoundingClientRect().top - window.scrollY - PAGE_BOTTOM_PX)));
    measure();
    window.addEventListener('resize', measure);
    return () => window.removeEventListener('resize', measure);
  }, [view]);
  // The stage (waveform box and details) gets what the control rows leave; its size does not depend on the canvas.
  useLayoutEffect(() => {
    if (!stage) return;
    const measure = () => setStageSize({ width: stage.clientWidth, height: stage.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(stage);
    return () => observer.disconnect();
  }, [stage]);

  const group = groups?.[groupIndex];
  const pages = group ? waveformPages(group) : 1;
  const layout = useMemo(() => group && waveformLayout(group, page), [group, page]);
  const scales = useMemo(() => group?.channels.map((c) => verticalScale(c, ROW_MM)), [group]);
  const fs = group?.samplingFrequency ?? 1;
  // Fit scales the paper, not the calibration: every length is drawn and read at pxPerMm, so 25 mm/s and
  // 10 mm/mV hold in paper mm and the caliper converts with the same number.
  const paper = layout && { widthMm: ((layout.panelSamples * layout.columnsPerRow) / fs) * ECG_PAPER.mmPerSecond, heightMm: layout.rows * ROW_MM };
  const room = stageSize && { width: stageSize.width - BOX_BORDER_PX, height: stageSize.height - DETAILS_MIN_PX - BOX_BORDER_PX };
  const fit = paper && room ? fitPxPerMm(room, paper) : BASE_PX_PER_MM;
  const pxPerMm = zoom === 'fit' ? fit : BASE_PX_PER_MM * zoom;
  // The box keeps the height of the fitted page at every zoom, so zooming scrolls inside it and nothing moves.
  const boxHeight = paper && room ? Math.max(0, Math.min(Math.ceil(paper.heightMm * fit), room.height)) + BOX_BORDER_PX : undefined;
  const samplePx = (ECG_PAPER.mmPerSecond * pxPerMm) / fs;
  const panelWidth = layout ? layout.panelSamples * samplePx : 0;
  const width = layout ? Math.ceil(panelWidth * layout.columnsPerRow) : 0;
  const rowHeight = ROW_MM * pxPerMm;
  const height = layout ? Math.ceil(rowHeight * layout.rows) : 0;
  const panelX = (p: EcgPanel): number => p.column * panelWidth;
  const channelOf = (point: CaliperPoint) => {
    const p = layout?.panels[point.panel];
    return p ? group?.channels[p.channel] : undefined;
  };
  const valueAt = (point: CaliperPoint): number => channelOf(point)?.values[point.sample] ?? 0;

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !group || !layout || !scales) return;
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
    const fontPx = Math.max(11, 3 * pxPerMm);
    ctx.font = `${fontPx}px system-ui`;
    for (const p of layout.panels) {
      const channel = group.channels[p.channel];
      const scale = scales[p.channel];
      const x0 = panelX(p);
      const middle = p.row * rowHeight + rowHeight / 2;
      const y = (value: number): number => (scale ? middle - ((value - scale.centre) / scale.unitsPerMm) * pxPerMm : middle);
      if (!channel || !scale) {
        ctx.fillStyle = '#111';
        ctx.fillText(p.label, x0 + 4, p.row * rowHeight + 3.5 * pxPerMm);
        continue;
      }
      // A scale in the channel's own units where ECG paper's 10 mm/mV does not apply, labelled at the left edge
      // (the right edge may be scrolled out of view); the channel's name follows the labels.
      ctx.fillStyle = '#2060c0';
      ctx.strokeStyle = 'rgb(32 96 192 / 35%)';
      ctx.lineWidth = 1;
      ctx.textBaseline = 'middle';
      let labelsWidth = 0;
      for (const t of scale.ticks) {
        const ty = Math.round(y(t)) + 0.5;
        ctx.beginPath();
        ctx.moveTo(x0, ty);
        ctx.lineTo(x0 + panelWidth, ty);
        ctx.stroke();
        ctx.fillText(String(t), x0 + 4, ty);
        labelsWidth = Math.max(labelsWidth, ctx.measureText(String(t)).width);
      }
      ctx.textBaseline = 'alphabetic';
      ctx.fillStyle = '#111';
      ctx.fillText(channel.unit !== 'mV' ? `${p.label} (${channel.unit})` : p.label, x0 + 4 + (labelsWidth > 0 ? labelsWidth + 8 : 0), p.row * rowHeight + 3.5 * pxPerMm);
      ctx.strokeStyle = '#111';
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      for (let s = p.startSample; s < p.endSample; s++) {
        const x = x0 + (s - p.startSample) * samplePx;
        if (s === p.startSample) ctx.moveTo(x, y(channel.values[s]!));
        else ctx.lineTo(x, y(channel.values[s]!));
      }
      ctx.stroke();
    }
    // The stored fiducial markers of this group, under the rhythm strip (12-lead) or the first row.
    const strip = layout.panels[layout.twelveLead ? 12 : 0]!;
    ctx.fillStyle = '#2060c0';
    for (const a of annotations) {
      if (a.group !== groupIndex + 1) continue;
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
  }, [group, groupIndex, layout, scales, width, height, pxPerMm, rowHeight, samplePx, panelWidth, points, annotations]);

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
  if (!groups || !group || !layout) return <p className="muted">Loading waveform…</p>;

  const [a, b] = points;
  const unitA = a && channelOf(a)?.unit;
  const unitB = b && channelOf(b)?.unit;
  const reading = a && b ? caliper({ sample: a.sample, mv: valueAt(a) }, { sample: b.sample, mv: valueAt(b) }, fs) : undefined;
  const pageStart = layout.panels[0]!.startSample;
  const pageEnd = layout.panels[layout.panels.length - 1]!.endSample;
  const electrical = group.channels.every((c) => c.unit === 'mV');
  const channelName = (annotationChannel: number): string => (annotationChannel > 0 ? `${group.channels[annotationChannel - 1]?.label ?? `channel ${annotationChannel}`}: ` : '');
  let caliperText = 'Click two points for a caliper (← → move the last point by one sample)';
  if (reading && unitA && unitB) {
    const amplitude = unitA === unitB ? ` · ${fixed(reading.amplitudeMv, unitA)} ${unitA}` : '';
    caliperText = `${reading.intervalMs.toFixed(0)} ms${amplitude} · ${reading.rateBpm.toFixed(0)} /min · ${fixed(valueAt(a), unitA)} → ${fixed(valueAt(b!), unitB)}`;
  } else if (a && unitA) {
    caliperText = `${fixed(valueAt(a), unitA)} ${unitA} at ${((a.sample * 1000) / fs).toFixed(0)} ms: click a second point`;
  }

  return (
    <section className="cardio-ecg" data-testid="ecg-view" ref={setView} style={viewHeight ? { height: viewHeight } : undefined}>
      {groups.length > 1 && (
        <div className="cardio-controls" role="group" aria-label="Multiplex group">
          {groups.map((g, i) => (
            <button
              key={i}
              type="button"
              aria-pressed={i === groupIndex}
              data-testid="waveform-group"
              onClick={() => {
                setGroupIndex(i);
                setPage(0);
              }}
            >
              {groupTitle(g, i)}
            </button>
          ))}
        </div>
      )}
      <div className="cardio-controls">
        <strong>{group.label || 'Waveform'}</strong>
        <span className="muted">
          {group.channels.length} channels · {fs} Hz · {(group.numberOfSamples / fs).toFixed(1)} s · 25 mm/s{electrical ? ', 10 mm/mV' : ', 10 mm/mV for ECG, labelled scales for the rest'}
        </span>
        {pages > 1 && (
          <span data-testid="waveform-page" data-page={page}>
            <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)} data-testid="waveform-page-prev">
              ◀ 10 s
            </button>{' '}
            {(pageStart / fs).toFixed(0)}-{(pageEnd / fs).toFixed(0)} s of {(group.numberOfSamples / fs).toFixed(0)} s{' '}
            <button type="button" disabled={page >= pages - 1} onClick={() => setPage(page + 1)} data-testid="waveform-page-next">
              10 s ▶
            </button>
          </span>
        )}
        <label>
          Zoom{' '}
          <select
            value={zoom}
            onChange={(e) => setZoom(e.target.value === 'fit' ? 'fit' : (Number(e.target.value) as Zoom))}
            data-testid="ecg-zoom"
            title={`Fit: the whole page in the window (now ${fit} px/mm); 1x: ${BASE_PX_PER_MM} px/mm, about paper size`}
          >
            <option value="fit">Fit</option>
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
      </div>
      <div className="cardio-ecg-readout">
        <span
          data-testid="ecg-caliper"
          data-interval-ms={reading?.intervalMs ?? ''}
          data-amplitude={reading && unitA === unitB ? reading.amplitudeMv : ''}
          data-value-a={a ? valueAt(a) : ''}
          data-value-b={b ? valueAt(b) : ''}
          data-unit-a={unitA ?? ''}
        >
          {caliperText}
        </span>
      </div>
      <div className="cardio-ecg-stage" ref={setStage}>
        <div className="cardio-ecg-scroll" style={boxHeight ? { height: boxHeight } : undefined}>
          <canvas
            ref={canvasRef}
            width={width}
            height={height}
            data-testid="ecg-canvas"
            data-px-per-mm={pxPerMm}
            data-zoom={zoom}
            data-sampling-frequency={fs}
            data-row-height={rowHeight}
            data-panel-width={panelWidth}
            data-start-sample={pageStart}
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
        <div className="cardio-ecg-details">
          <div>
            <table className="cardio-channels" data-testid="waveform-channels">
              <thead>
                <tr>
                  <th>Channel</th>
                  <th>Unit</th>
                  <th>Lowest</th>
                  <th>Highest</th>
                  <th>Mean</th>
                </tr>
              </thead>
              <tbody>
                {group.channels.map((c, i) => {
                  const stats = channelStatistics(c.values, pageStart, pageEnd);
                  return (
                    <tr key={i} data-testid="waveform-channel" data-label={c.label} data-unit={c.unit} data-min={stats.min} data-max={stats.max} data-mean={stats.mean}>
                      <td>{c.label}</td>
                      <td>{c.unit}</td>
                      <td>{fixed(stats.min, c.unit)}</td>
                      <td>{fixed(stats.max, c.unit)}</td>
                      <td>{fixed(stats.mean, c.unit)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <p className="hint">Over the {((pageEnd - pageStart) / fs).toFixed(0)} s shown: for a pressure, highest and lowest are systolic and diastolic.</p>
          </div>
          <div>
            <h3>Stored measurements</h3>
            <ul className="cardio-annotations" data-testid="ecg-annotations">
              {annotations
                .filter((x) => x.value !== undefined)
                .map((x, i) => (
                  <li key={i}>
                    {x.group === groupIndex + 1 ? channelName(x.channel) : `group ${x.group}: `}
                    {x.label}: {Math.round(x.value! * 1000) / 1000} {x.unit}
                  </li>
                ))}
              <li className="muted">{annotations.filter((x) => x.value === undefined && x.group === groupIndex + 1).length} fiducial markers in this group (blue ticks under the {layout.twelveLead ? 'rhythm strip' : 'first row'})</li>
            </ul>
          </div>
        </div>
      </div>
    </section>
  );
}
