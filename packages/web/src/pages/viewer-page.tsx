import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Enums as CoreEnums, RenderingEngine, eventTarget, utilities as coreUtilities, type Types } from '@cornerstonejs/core';
import dicomImageLoader from '@cornerstonejs/dicom-image-loader';
import {
  AngleTool,
  Enums as ToolEnums,
  LengthTool,
  PanTool,
  StackScrollTool,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
  annotation,
} from '@cornerstonejs/tools';
import { dicomNumber, dicomString, fetchSeries, fetchSeriesMetadata, thumbnailUrl, wadoRsRoot, type DicomJson } from '../api.js';
import { useServices } from '../app.js';
import { navigate, onLinkClick } from '../routing.js';
import { hasImages, isWaveformStudy, studyViewUrl } from '../study-kind.js';
import { CT_PRESETS, GENERIC_PRESETS, type WindowPreset } from '../viewer/presets.js';

const PRIMARY_TOOLS = [
  { name: WindowLevelTool.toolName, label: 'Window', key: 'w' },
  { name: PanTool.toolName, label: 'Pan', key: 'p' },
  { name: ZoomTool.toolName, label: 'Zoom', key: 'z' },
  { name: LengthTool.toolName, label: 'Length', key: 'l' },
  { name: AngleTool.toolName, label: 'Angle', key: 'a' },
] as const;

interface Measurement {
  uid: string;
  kind: 'length' | 'angle';
  value: number;
  unit: string;
}

interface ViewerState {
  index: number;
  count: number;
  windowWidth?: number;
  windowCenter?: number;
  zoom?: number;
}

/** The imageIds of a series (WADO-RS frames, one per frame of each instance, in instance number order). */
function imageIdsOf(root: string, studyInstanceUid: string, seriesInstanceUid: string, instances: DicomJson[]): { imageIds: string[]; frameRate?: number } {
  const sorted = [...instances].sort((a, b) => (dicomNumber(a, '00200013') ?? 0) - (dicomNumber(b, '00200013') ?? 0));
  const imageIds: string[] = [];
  let frameRate: number | undefined;
  for (const instance of sorted) {
    if (dicomNumber(instance, '00280010') === undefined) continue; // no Rows: not an image
    const sopInstanceUid = dicomString(instance, '00080018');
    const frames = dicomNumber(instance, '00280008') ?? 1;
    const base = `wadors:${root}/studies/${studyInstanceUid}/series/${seriesInstanceUid}/instances/${sopInstanceUid}/frames/`;
    // The loader derives the metadata of frames 2..n from frame 1's (per-frame functional groups included).
    dicomImageLoader.wadors.metaDataManager.add(`${base}1`, instance as never);
    for (let frame = 1; frame <= frames; frame++) imageIds.push(`${base}${frame}`);
    if (frames > 1 && frameRate === undefined) {
      // Recommended Display Frame Rate, Cine Rate, then Frame Time (ms) of the Cine Module (PS3.3 C.7.6.5).
      const frameTime = dicomNumber(instance, '00181063');
      frameRate = dicomNumber(instance, '00082144') ?? dicomNumber(instance, '00180040') ?? (frameTime ? 1000 / frameTime : undefined);
    }
  }
  return { imageIds, ...(frameRate ? { frameRate } : {}) };
}

function measurementsOf(viewportElement: HTMLElement | null): Measurement[] {
  if (!viewportElement) return [];
  const out: Measurement[] = [];
  for (const a of annotation.state.getAllAnnotations()) {
    const stats = Object.values((a.data as { cachedStats?: Record<string, { length?: number; angle?: number; unit?: string }> }).cachedStats ?? {})[0];
    if (!stats || !a.annotationUID) continue;
    if (a.metadata?.toolName === LengthTool.toolName && typeof stats.length === 'number') {
      out.push({ uid: a.annotationUID, kind: 'length', value: stats.length, unit: stats.unit ?? 'mm' });
    } else if (a.metadata?.toolName === AngleTool.toolName && typeof stats.angle === 'number') {
      out.push({ uid: a.annotationUID, kind: 'angle', value: stats.angle, unit: '°' });
    }
  }
  return out;
}

/**
 * Atrium's own viewer for one series: a Cornerstone3D stack viewport fed by WADO-RS frames, with scroll (wheel,
 * arrows), window/level (left drag, presets 1-4), zoom (right drag), pan (middle drag), length and angle
 * measurements in the pixel spacing's millimetres, and cine for multi-frame clips.
 */
export function ViewerPage({ studyInstanceUid, seriesInstanceUid }: { studyInstanceUid: string; seriesInstanceUid?: string | undefined }): ReactNode {
  const { runtime } = useServices();
  const element = useRef<HTMLDivElement>(null);
  const viewportRef = useRef<Types.IStackViewport | undefined>(undefined);
  const toolGroupRef = useRef<ReturnType<typeof ToolGroupManager.createToolGroup>>(undefined);
  const [seriesList, setSeriesList] = useState<DicomJson[]>([]);
  const [activeSeries, setActiveSeries] = useState<string | undefined>(seriesInstanceUid);
  const [modality, setModality] = useState('');
  const [state, setState] = useState<ViewerState>({ index: 0, count: 0 });
  const [rendered, setRendered] = useState(false);
  const [primaryTool, setPrimaryTool] = useState<string>(WindowLevelTool.toolName);
  const [measurements, setMeasurements] = useState<Measurement[]>([]);
  const [playing, setPlaying] = useState(false);
  const [fps, setFps] = useState(24);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const controller = new AbortController();
    fetchSeries(studyInstanceUid, controller.signal).then(
      (list) => {
        const modalities = list.map((s) => dicomString(s, '00080060'));
        const images = list.filter((_, i) => hasImages([modalities[i]!]));
        setSeriesList(images);
        if (!seriesInstanceUid) {
          const first = images[0];
          if (first) setActiveSeries(dicomString(first, '0020000E'));
          // An address kept from before waveform studies opened in the cardiology view.
          else if (isWaveformStudy(modalities)) navigate(studyViewUrl(studyInstanceUid, modalities), { replace: true });
          else setError('This study has no image series to show');
        }
      },
      (e: unknown) => !controller.signal.aborted && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => controller.abort();
  }, [studyInstanceUid, seriesInstanceUid]);

  useEffect(() => setActiveSeries(seriesInstanceUid ?? activeSeries), [seriesInstanceUid]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    const div = element.current;
    if (!div || !activeSeries) return;
    const controller = new AbortController();
    const id = crypto.randomUUID();
    const renderingEngineId = `atrium-engine-${id}`;
    const viewportId = `atrium-viewport-${id}`;
    const toolGroupId = `atrium-tools-${id}`;
    let engine: RenderingEngine | undefined;
    let observer: ResizeObserver | undefined;
    const cleanups: (() => void)[] = [];
    setRendered(false);
    setMeasurements([]);
    setPlaying(false);

    const updateFromViewport = () => {
      const viewport = viewportRef.current;
      if (!viewport) return;
      const { voiRange } = viewport.getProperties();
      const windowLevel = voiRange ? coreUtilities.windowLevel.toWindowLevel(voiRange.lower, voiRange.upper) : undefined;
      setState({
        index: viewport.getCurrentImageIdIndex(),
        count: viewport.getImageIds().length,
        ...(windowLevel ? { windowWidth: windowLevel.windowWidth, windowCenter: windowLevel.windowCenter } : {}),
        zoom: viewport.getZoom(),
      });
    };

    (async () => {
      await runtime.ready();
      const instances = await fetchSeriesMetadata(studyInstanceUid, activeSeries, controller.signal);
      if (controller.signal.aborted) return;
      setModality(dicomString(instances[0], '00080060'));
      const { imageIds, frameRate } = imageIdsOf(wadoRsRoot(window.location.origin), studyInstanceUid, activeSeries, instances);
      if (imageIds.length === 0) throw new Error('This series has no image to show');
      if (frameRate) setFps(Math.round(frameRate));

      engine = new RenderingEngine(renderingEngineId);
      engine.enableElement({ viewportId, type: CoreEnums.ViewportType.STACK, element: div, defaultOptions: { background: [0, 0, 0] } });
      const viewport = engine.getViewport(viewportId) as Types.IStackViewport;
      viewportRef.current = viewport;

      const toolGroup = ToolGroupManager.createToolGroup(toolGroupId)!;
      toolGroupRef.current = toolGroup;
      for (const name of [StackScrollTool.toolName, WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, LengthTool.toolName, AngleTool.toolName]) toolGroup.addTool(name);
      toolGroup.addViewport(viewportId, renderingEngineId);
      toolGroup.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Wheel }] });
      toolGroup.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
      toolGroup.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
      toolGroup.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] });
      toolGroup.setToolPassive(LengthTool.toolName);
      toolGroup.setToolPassive(AngleTool.toolName);
      setPrimaryTool(WindowLevelTool.toolName);

      const listen = (target: EventTarget, type: string, fn: (event: Event) => void) => {
        target.addEventListener(type, fn);
        cleanups.push(() => target.removeEventListener(type, fn));
      };
      let first = true;
      listen(div, CoreEnums.Events.IMAGE_RENDERED, () => {
        if (first) {
          first = false;
          performance.mark('atrium:first-frame');
          setRendered(true);
        }
        updateFromViewport();
      });
      listen(div, CoreEnums.Events.VOI_MODIFIED, updateFromViewport);
      listen(div, CoreEnums.Events.CAMERA_MODIFIED, updateFromViewport);
      listen(div, CoreEnums.Events.STACK_NEW_IMAGE, updateFromViewport);
      const refreshMeasurements = () => setMeasurements(measurementsOf(div));
      for (const type of [ToolEnums.Events.ANNOTATION_COMPLETED, ToolEnums.Events.ANNOTATION_MODIFIED, ToolEnums.Events.ANNOTATION_REMOVED]) {
        listen(eventTarget, type, refreshMeasurements);
      }
      observer = new ResizeObserver(() => engine?.resize(true, false));
      observer.observe(div);
      await viewport.setStack(imageIds, 0);
      if (controller.signal.aborted) return;
      viewport.render();
      updateFromViewport();
    })().catch((e: unknown) => {
      if (!controller.signal.aborted) setError(e instanceof Error ? e.message : String(e));
    });

    return () => {
      controller.abort();
      observer?.disconnect();
      for (const cleanup of cleanups) cleanup();
      annotation.state.removeAllAnnotations();
      ToolGroupManager.destroyToolGroup(toolGroupId);
      engine?.destroy();
      viewportRef.current = undefined;
      toolGroupRef.current = undefined;
    };
  }, [runtime, studyInstanceUid, activeSeries]);

  // Cine steps the stack itself rather than through Cornerstone's playClip, whose debounced loading did not advance
  // a WADO-RS stack here: a frame is requested only when the previous one is shown, so a slow network or decoder
  // lowers the frame rate instead of queueing requests.
  useEffect(() => {
    const viewport = viewportRef.current;
    if (!playing || !viewport) return;
    // When the frame asked for was shown (or given up on); a frame that never settles is skipped after a second.
    let busySince = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      if (busySince && now - busySince < 1000) return;
      busySince = now;
      const next = (viewport.getCurrentImageIdIndex() + 1) % viewport.getImageIds().length;
      const done = () => (busySince = 0);
      viewport.setImageIdIndex(next).then(done, done);
    }, 1000 / Math.max(1, fps));
    return () => clearInterval(timer);
  }, [playing, fps, activeSeries]);

  const selectTool = (name: string) => {
    const toolGroup = toolGroupRef.current;
    if (!toolGroup || name === primaryTool) return;
    toolGroup.setToolPassive(primaryTool);
    toolGroup.setToolActive(name, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
    setPrimaryTool(name);
  };
  const scrollTo = (index: number) => {
    const viewport = viewportRef.current;
    if (!viewport) return;
    const clamped = Math.min(Math.max(0, index), viewport.getImageIds().length - 1);
    void viewport.setImageIdIndex(clamped);
  };
  const presets: readonly WindowPreset[] = modality === 'CT' ? CT_PRESETS : GENERIC_PRESETS;
  const applyPreset = (preset: WindowPreset) => {
    const viewport = viewportRef.current;
    if (!viewport) return;
    viewport.setProperties({ voiRange: coreUtilities.windowLevel.toLowHighRange(preset.width, preset.center) });
    viewport.render();
  };
  const reset = () => {
    const viewport = viewportRef.current;
    if (!viewport) return;
    viewport.resetCamera();
    viewport.resetProperties();
    viewport.render();
  };
  const toggleCine = () => {
    if (viewportRef.current) setPlaying(!playing);
  };
  const clearMeasurements = () => {
    annotation.state.removeAllAnnotations();
    viewportRef.current?.render();
    setMeasurements([]);
  };

  const keys = useRef<(event: KeyboardEvent) => void>(() => {});
  keys.current = (event: KeyboardEvent) => {
    if ((event.target as HTMLElement).tagName === 'INPUT' || (event.target as HTMLElement).tagName === 'SELECT') return;
    const tool = PRIMARY_TOOLS.find((t) => t.key === event.key);
    const preset = presets.find((p) => p.key === event.key);
    if (event.key === 'ArrowDown' || event.key === 'ArrowRight' || event.key === 'PageDown') scrollTo(state.index + (event.key === 'PageDown' ? 10 : 1));
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft' || event.key === 'PageUp') scrollTo(state.index - (event.key === 'PageUp' ? 10 : 1));
    else if (event.key === 'Home') scrollTo(0);
    else if (event.key === 'End') scrollTo(state.count - 1);
    else if (tool) selectTool(tool.name);
    else if (preset) applyPreset(preset);
    else if (event.key === 'r') reset();
    else if (event.key === ' ') toggleCine();
    else if (event.key === 'Delete') clearMeasurements();
    else if (event.key === 'Escape') navigate(`/studies/${studyInstanceUid}`);
    else return;
    event.preventDefault();
  };
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => keys.current(event);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  return (
    <main className="viewer" data-testid="viewer-page">
      <div className="viewer-toolbar" role="toolbar" aria-label="Viewer tools">
        <a href={`/studies/${studyInstanceUid}`} onClick={onLinkClick} title="Back to the study (Esc)">
          ← Study
        </a>
        {PRIMARY_TOOLS.map((t) => (
          <button key={t.name} type="button" aria-pressed={primaryTool === t.name} onClick={() => selectTool(t.name)} data-testid={`tool-${t.key}`} title={`${t.label} (${t.key})`}>
            {t.label}
          </button>
        ))}
        <span className="separator" />
        {presets.map((p) => (
          <button key={p.key} type="button" onClick={() => applyPreset(p)} data-testid={`preset-${p.key}`} title={`${p.label}: W ${p.width} L ${p.center} (${p.key})`}>
            {p.label}
          </button>
        ))}
        <button type="button" onClick={reset} data-testid="reset" title="Reset (r)">
          Reset
        </button>
        {state.count > 1 && (
          <>
            <span className="separator" />
            <button type="button" onClick={toggleCine} aria-pressed={playing} data-testid="cine" title="Play or stop (space)">
              {playing ? 'Stop' : 'Play'}
            </button>
            <label className="fps">
              <input type="number" min={1} max={120} value={fps} onChange={(e) => setFps(Number(e.target.value) || 1)} aria-label="Frames per second" />
              fps
            </label>
          </>
        )}
      </div>
      <div className="viewer-body">
        <aside className="viewer-series" aria-label="Series">
          {seriesList.map((s) => {
            const uid = dicomString(s, '0020000E');
            return (
              <a
                key={uid}
                href={`/studies/${studyInstanceUid}/series/${uid}`}
                onClick={onLinkClick}
                aria-current={uid === activeSeries ? 'true' : undefined}
                title={dicomString(s, '0008103E')}
              >
                <img src={thumbnailUrl(studyInstanceUid, uid)} alt="" width={72} height={72} loading="lazy" />
                <span>
                  {dicomString(s, '00200011')} {dicomString(s, '00080060')}
                </span>
              </a>
            );
          })}
        </aside>
        <div className="viewport-wrap">
          <div
            ref={element}
            className="viewport"
            data-testid="viewport"
            data-rendered={rendered ? 'true' : 'false'}
            data-image-index={state.index}
            onContextMenu={(e) => e.preventDefault()}
          />
          <div className="overlay overlay-bottom-left" data-testid="overlay">
            <span data-testid="image-index">
              Image {state.count ? state.index + 1 : 0} / {state.count}
            </span>
            {state.windowWidth !== undefined && (
              <span data-testid="voi" data-width={Math.round(state.windowWidth)} data-center={Math.round(state.windowCenter ?? 0)}>
                W {Math.round(state.windowWidth)} L {Math.round(state.windowCenter ?? 0)}
              </span>
            )}
            {state.zoom !== undefined && <span data-testid="zoom">Zoom {state.zoom.toFixed(2)}</span>}
          </div>
          {error && (
            <p className="error overlay-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <aside className="viewer-measurements" aria-label="Measurements">
          <h2>Measurements</h2>
          {measurements.length === 0 && <p className="muted">Choose Length (l) or Angle (a) and drag on the image.</p>}
          <ul>
            {measurements.map((m) => (
              <li key={m.uid} data-testid="measurement" data-kind={m.kind} data-value={m.value.toFixed(2)}>
                {m.kind === 'length' ? 'Length' : 'Angle'} {m.value.toFixed(1)} {m.unit}
              </li>
            ))}
          </ul>
          {measurements.length > 0 && (
            <button type="button" onClick={clearMeasurements}>
              Clear (Delete)
            </button>
          )}
          <p className="hint">Wheel or ↑↓ scroll · left drag: tool · right drag zoom · middle drag pan · 1-4 presets · r reset · space cine · Esc back</p>
        </aside>
      </div>
    </main>
  );
}
