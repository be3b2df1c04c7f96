import { useEffect, useMemo, useRef, useState, type CSSProperties, type PointerEvent as ReactPointerEvent, type ReactNode } from 'react';
import { ultrasoundRegions, usArea, userCalibration, usDistance, xaCalibration, xaDistance, type Measurement, type Point, type XaCalibration } from './calibration.js';
import { CINE_SPEEDS, CineClock, cineStatus, cineTiming, clipTimeOf, cycleClipTime, FpsMeter, frameAtTime, type CinePlaybackCycle, type CineTiming } from './cine.js';

export { CineClock };
import type { CardioItem } from './echo-layout.js';
import { ClipFrames, type FramePool } from './frame-pool.js';

function frameUrl(studyInstanceUid: string, item: CardioItem): string {
  return `/dicom-web/studies/${studyInstanceUid}/series/${item.seriesInstanceUid}/instances/${item.sopInstanceUid}`;
}

/** Controls of a clock: play/stop, step, speed, loop. */
export function CineControls({ clock, fps, label }: { clock: CineClock; fps: number; label?: string }): ReactNode {
  const [, setVersion] = useState(0);
  useEffect(() => clock.subscribe(() => setVersion((v) => v + 1)), [clock]);
  return (
    <div className="cardio-controls">
      {label && <strong>{label}</strong>}
      <button type="button" onClick={() => clock.step(-1000 / fps)} title="Previous frame (←)" data-testid="cine-prev">
        ◀ frame
      </button>
      <button type="button" aria-pressed={clock.playing} onClick={() => (clock.playing ? clock.pause() : clock.play())} data-testid="cine-play" title="Play or stop (space)">
        {clock.playing ? 'Stop' : 'Play'}
      </button>
      <button type="button" onClick={() => clock.step(1000 / fps)} title="Next frame (→)" data-testid="cine-next">
        frame ▶
      </button>
      <label>
        Speed{' '}
        <select value={clock.speed} onChange={(e) => clock.setSpeed(Number(e.target.value))} data-testid="cine-speed">
          {CINE_SPEEDS.map((s) => (
            <option key={s} value={s}>
              {s}x
            </option>
          ))}
        </select>
      </label>
      <label>
        <input type="checkbox" checked={clock.loop} onChange={(e) => clock.setLoop(e.target.checked)} data-testid="cine-loop" /> Loop
      </label>
    </div>
  );
}

export interface CinePlayerProps {
  pool: FramePool;
  studyInstanceUid: string;
  item: CardioItem;
  clock: CineClock;
  /**
   * Synchronised views: the part of the clip to loop (from the first R wave) and how long one loop lasts on
   * screen; without it the whole clip loops at its acquired rate from the first frame.
   */
  cycle?: CinePlaybackCycle;
  /** Allow calibrated measurements by dragging. */
  measure?: boolean;
  width?: number;
  testId?: string;
}

/**
 * One multi-frame clip on a canvas. Every animation frame picks the frame that the clock says is due, so a slow
 * network or decoder drops frames instead of slowing the clip; the status line says how many are shown.
 */
export function CinePlayer({ pool, studyInstanceUid, item, clock, cycle, measure = false, width, testId = 'cine-player' }: CinePlayerProps): ReactNode {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const statusRef = useRef<HTMLSpanElement>(null);
  const timing: CineTiming = useMemo(() => cineTiming(item.metadata, item.frames), [item]);
  // Read on every animation frame: changing the cycle (same cycle length on or off) must not reload the frames.
  const cycleRef = useRef(cycle);
  cycleRef.current = cycle;
  const rows = Number(item.metadata['00280010']?.Value?.[0] ?? 0);
  const columns = Number(item.metadata['00280011']?.Value?.[0] ?? 0);

  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context) return;
    const clip = new ClipFrames(pool, frameUrl(studyInstanceUid, item), item.frames, item.metadata);
    const meter = new FpsMeter(1000);
    const started = performance.now();
    let shown = -1;
    let raf = 0;
    let lastStatus = 0;
    clip.pump(0);
    const interval = 1000 / timing.fps;
    const tick = (now: number) => {
      raf = requestAnimationFrame(tick);
      const loopCycle = cycleRef.current;
      const t = loopCycle ? cycleClipTime(timing, loopCycle, clock.elapsed(now), clock.speed, clock.loop) : clipTimeOf(timing, clock.elapsed(now), clock.speed, clock.loop);
      let target = frameAtTime(timing, t);
      // Display refresh jitter: when barely into the frame after next, show the next one rather than skip it.
      if (clock.playing && shown >= 0 && target === shown + 2 && t - timing.offsets[target]! < interval * 0.3) target = shown + 1;
      const bitmap = clip.frames[target];
      if (bitmap && target !== shown) {
        context.drawImage(bitmap, 0, 0);
        shown = target;
        if (clock.playing) meter.paint(now);
        canvas.dataset.frame = String(target);
      } else if (!bitmap) {
        clip.pump(target);
      }
      if (now - lastStatus > 250) {
        lastStatus = now;
        if (!clock.playing) meter.reset();
        const fps = meter.fps();
        canvas.dataset.fps = fps.toFixed(1);
        canvas.dataset.fpsSpan = String(Math.round(meter.span()));
        canvas.dataset.loaded = String(clip.loaded);
        if (clip.firstFrameAt !== undefined) canvas.dataset.firstFrameMs = String(Math.round(clip.firstFrameAt - started));
        if (statusRef.current) {
          statusRef.current.textContent = `${cineStatus(clock.playing, fps, timing.fps, clock.speed)} · frame ${shown + 1}/${item.frames}${clip.loaded < item.frames ? ` · ${clip.loaded} loaded` : ''}`;
        }
      }
    };
    raf = requestAnimationFrame(tick);
    return () => {
      cancelAnimationFrame(raf);
      clip.close();
    };
  }, [pool, studyInstanceUid, item, clock, timing]);

  const canvas = <canvas ref={canvasRef} width={columns} height={rows} data-acquired-fps={timing.fps.toFixed(2)} data-frames={item.frames} />;
  // The box is as wide as the column allows and no wider than the height the layout leaves for it
  // (--cardio-fit-height, see cardiology.css) times the clip's aspect ratio: the clip is contained, never cropped.
  const style = { '--cardio-aspect': rows > 0 && columns > 0 ? columns / rows : 1, ...(width ? { width } : {}) } as CSSProperties;
  return (
    <figure className="cardio-player" data-testid={testId} style={style}>
      {measure ? (
        <MeasureOverlay item={item} rows={rows} columns={columns}>
          {canvas}
        </MeasureOverlay>
      ) : (
        <div className="cardio-canvas-box">{canvas}</div>
      )}
      <figcaption className="hint">
        {[item.stage?.name, item.view?.name].filter(Boolean).join(' · ')} <span ref={statusRef} data-testid="cine-status" />
      </figcaption>
    </figure>
  );
}

/**
 * The canvas (children) with a drawing layer of the same box over it, and the measurement controls under it.
 * Points are taken in image pixels (the layer's viewBox is the image matrix), so they do not depend on the size
 * the clip is shown at.
 */
function MeasureOverlay({ item, rows, columns, children }: { item: CardioItem; rows: number; columns: number; children: ReactNode }): ReactNode {
  const svgRef = useRef<SVGSVGElement>(null);
  const [line, setLine] = useState<{ a: Point; b: Point } | undefined>();
  const [dragging, setDragging] = useState(false);
  const [userCal, setUserCal] = useState<XaCalibration | undefined>();
  const [knownMm, setKnownMm] = useState('2');
  const [mode, setMode] = useState<'distance' | 'area'>('distance');
  const [polygon, setPolygon] = useState<Point[]>([]);
  const regions = useMemo(() => ultrasoundRegions(item.metadata), [item]);
  const xa = item.modality === 'XA';
  const geometric = useMemo(() => (xa ? xaCalibration(item.metadata) : undefined), [item, xa]);
  const toImage = (event: ReactPointerEvent): Point => {
    const rect = svgRef.current!.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * columns) / rect.width, y: ((event.clientY - rect.top) * rows) / rect.height };
  };
  const result: Measurement | undefined =
    mode === 'area'
      ? polygon.length >= 3
        ? xa
          ? { ok: false, message: 'Cannot measure an area on XA yet: draw distances' }
          : usArea(regions, polygon)
        : undefined
      : line && (xa ? xaDistance(userCal ?? geometric, line.a, line.b) : usDistance(regions, line.a, line.b));
  return (
    <>
      <div className="cardio-canvas-box">
        {children}
        <svg
        ref={svgRef}
        className="cardio-overlay"
        viewBox={`0 0 ${columns} ${rows}`}
        data-testid="measure-overlay"
        onPointerDown={(e) => {
          const p = toImage(e);
          // Area: each click adds a corner of the traced outline.
          if (mode === 'area') return setPolygon((list) => [...list, p]);
          setLine({ a: p, b: p });
          setDragging(true);
          svgRef.current?.setPointerCapture(e.pointerId);
        }}
        onPointerMove={(e) => dragging && mode === 'distance' && setLine((l) => l && { a: l.a, b: toImage(e) })}
        onPointerUp={(e) => {
          if (mode === 'area') return;
          setDragging(false);
          setLine((l) => l && { a: l.a, b: toImage(e) });
        }}
      >
        {mode === 'area' && polygon.length > 0 && (
          <polygon points={polygon.map((p) => `${p.x},${p.y}`).join(' ')} fill="rgb(255 212 0 / 15%)" stroke="#ffd400" strokeWidth={Math.max(1, columns / 400)} />
        )}
        {mode === 'distance' && line && <line x1={line.a.x} y1={line.a.y} x2={line.b.x} y2={line.b.y} stroke="#ffd400" strokeWidth={Math.max(1, columns / 400)} />}
        </svg>
      </div>
      <div className="cardio-measure">
        <select
          value={mode}
          onChange={(e) => {
            setMode(e.target.value as 'distance' | 'area');
            setPolygon([]);
            setLine(undefined);
          }}
          data-testid="measure-mode"
        >
          <option value="distance">Distance</option>
          <option value="area">Area (click the outline)</option>
        </select>{' '}
        {mode === 'area' && (
          <button type="button" onClick={() => setPolygon([])}>
            New outline
          </button>
        )}{' '}
        {result && (
          <span className={result.ok ? 'ok' : 'error'} role={result.ok ? 'status' : 'alert'} data-testid="measurement" data-value={result.ok ? result.value : ''}>
            {result.ok ? result.text : result.message}
          </span>
        )}
        {xa && (
          <span>
            {' '}
            Calibration: {userCal ? `user, ${userCal.mmPerPixel.toFixed(4)} mm/px` : geometric ? `${geometric.source}, ${geometric.mmPerPixel.toFixed(4)} mm/px` : 'none'} ·{' '}
            <label>
              known size (mm) <input value={knownMm} onChange={(e) => setKnownMm(e.target.value)} size={4} data-testid="known-mm" />
            </label>{' '}
            <button
              type="button"
              disabled={!line}
              data-testid="calibrate"
              onClick={() => line && setUserCal(userCalibration(Math.hypot(line.b.x - line.a.x, line.b.y - line.a.y), Number(knownMm)))}
            >
              Calibrate on this line
            </button>
          </span>
        )}
      </div>
    </>
  );
}
