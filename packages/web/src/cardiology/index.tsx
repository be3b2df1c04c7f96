import { useEffect, useMemo, useState, type CSSProperties, type ReactNode } from 'react';
import { fetchSeries, fetchSeriesMetadata, dicomString } from '../api.js';
import { onLinkClick } from '../routing.js';
import { CineClock, CineControls, CinePlayer } from './cine-player.js';
import { cineTiming, type JsonDataset } from './cine.js';
import { cardiacCycle, cardioItems, stressGrid, WAVEFORM_CLASSES, type CardioItem } from './echo-layout.js';
import { EcgView } from './ecg-view.js';
import { FramePool } from './frame-pool.js';
import { ThumbnailClip } from './thumbnail-clip.js';
import { ThumbnailLoader } from './thumbnail-loader.js';
import './cardiology.css';
import type { CardiologyRoute } from './routes.js';

export { parseCardiologyRoute, CARDIOLOGY_MODALITIES, type CardiologyRoute } from './routes.js';

function useStudyItems(studyInstanceUid: string): { items?: CardioItem[]; error?: string } {
  const [state, setState] = useState<{ items?: CardioItem[]; error?: string }>({});
  useEffect(() => {
    const controller = new AbortController();
    (async () => {
      const series = await fetchSeries(studyInstanceUid, controller.signal);
      const metadata = await Promise.all(series.map((s) => fetchSeriesMetadata(studyInstanceUid, dicomString(s, '0020000E'), controller.signal)));
      setState({ items: cardioItems(metadata.flat() as JsonDataset[]) });
    })().catch((e: unknown) => !controller.signal.aborted && setState({ error: e instanceof Error ? e.message : String(e) }));
    return () => controller.abort();
  }, [studyInstanceUid]);
  return state;
}

function useFramePool(): FramePool | undefined {
  const [pool, setPool] = useState<FramePool>();
  useEffect(() => {
    const p = new FramePool();
    setPool(p);
    return () => p.close();
  }, []);
  return pool;
}

function useThumbnailLoader(): ThumbnailLoader | undefined {
  const [loader, setLoader] = useState<ThumbnailLoader>();
  useEffect(() => {
    const l = new ThumbnailLoader();
    setLoader(l);
    return () => l.close();
  }, []);
  return loader;
}

function itemTitle(item: CardioItem): string {
  if (item.kind === 'waveform') return WAVEFORM_CLASSES[String(item.metadata['00080016']?.Value?.[0])] ?? 'Waveform';
  const parts = [item.modality, item.stage?.name, item.view?.name].filter(Boolean);
  return `${parts.join(' ')} · ${item.frames} frame${item.frames === 1 ? '' : 's'}`;
}

function instanceThumbnail(studyInstanceUid: string, item: CardioItem): string {
  return `/dicom-web/studies/${studyInstanceUid}/series/${item.seriesInstanceUid}/instances/${item.sopInstanceUid}/thumbnail?viewport=160,120`;
}

/** Echo, XA and ECG reading for one study. */
export function CardiologyPage({ route }: { route: CardiologyRoute }): ReactNode {
  const { studyInstanceUid } = route;
  const { items, error } = useStudyItems(studyInstanceUid);
  const pool = useFramePool();
  const thumbnails = useThumbnailLoader();
  const grid = useMemo(() => items && stressGrid(items), [items]);

  if (error) return <main className="page"><p className="error" role="alert">{error}</p></main>;
  if (!items || !pool || !thumbnails) return <main className="page"><p className="muted">Loading…</p></main>;
  if (items.length === 0) return <main className="page"><p>No instances in study {studyInstanceUid}.</p></main>;

  const base = `/cardio/${studyInstanceUid}`;
  const target = route.rest[0];
  const selected =
    (route.view === 'instance' && items.find((i) => i.sopInstanceUid === target)) ||
    (route.view === 'series' && items.find((i) => i.seriesInstanceUid === target)) ||
    items.find((i) => i.kind === 'cine') ||
    items[0]!;
  const stress = route.view === 'stress' && grid;

  return (
    <main className="cardio" data-testid="cardiology-page">
      <nav>
        <p>
          <a href={`/studies/${studyInstanceUid}`} onClick={onLinkClick}>← Study</a>
          {grid && (
            <>
              {' · '}
              <a href={`${base}/stress`} onClick={onLinkClick} data-testid="stress-link">Stress echo</a>
            </>
          )}
        </p>
        <ul className="cardio-thumbs" data-testid="cardio-thumbs">
          {items.map((item) => (
            <li key={item.sopInstanceUid}>
              <a href={`${base}/instance/${item.sopInstanceUid}`} onClick={onLinkClick} aria-current={!stress && item === selected} data-testid="cardio-thumb" data-kind={item.kind}>
                {item.kind === 'waveform' ? (
                  <span className="muted">{item.modality || 'Waveform'} </span>
                ) : item.kind === 'cine' ? (
                  <ThumbnailClip loader={thumbnails} studyInstanceUid={studyInstanceUid} item={item} />
                ) : (
                  <img src={instanceThumbnail(studyInstanceUid, item)} alt="" loading="lazy" />
                )}
                {itemTitle(item)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <section className={stress || selected.kind === 'waveform' ? 'cardio-main cardio-main-wide' : 'cardio-main'}>
        {stress ? (
          <StressQuad pool={pool} studyInstanceUid={studyInstanceUid} grid={grid} view={route.rest[0]} />
        ) : selected.kind === 'waveform' ? (
          <EcgView key={selected.sopInstanceUid} studyInstanceUid={studyInstanceUid} item={selected} />
        ) : (
          <SingleClip key={selected.sopInstanceUid} pool={pool} studyInstanceUid={studyInstanceUid} item={selected} />
        )}
      </section>
    </main>
  );
}

function useKeys(clock: CineClock, fps: number): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.target as HTMLElement).tagName === 'INPUT' || (event.target as HTMLElement).tagName === 'SELECT') return;
      if (event.key === ' ') {
        event.preventDefault();
        if (clock.playing) clock.pause();
        else clock.play();
      } else if (event.key === 'ArrowRight') clock.step(1000 / fps);
      else if (event.key === 'ArrowLeft') clock.step(-1000 / fps);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [clock, fps]);
}

/** One clip, auto-playing, with calibrated measurements. */
function SingleClip({ pool, studyInstanceUid, item }: { pool: FramePool; studyInstanceUid: string; item: CardioItem }): ReactNode {
  const clock = useMemo(() => new CineClock(), []);
  const fps = useMemo(() => cineTiming(item.metadata, item.frames).fps, [item]);
  useKeys(clock, fps);
  useEffect(() => {
    if (item.kind === 'cine') clock.play();
    return () => clock.pause();
  }, [clock, item]);
  return (
    <>
      {item.kind === 'cine' && <CineControls clock={clock} fps={fps} label={itemTitle(item)} />}
      <CinePlayer pool={pool} studyInstanceUid={studyInstanceUid} item={item} clock={clock} measure />
      <p className="hint">Drag on the image to measure (ultrasound: in the region's units; XA: at the isocentre or on your calibration) · space play · ← → step</p>
    </>
  );
}

/**
 * Rest and stress stages of one view side by side, on one clock. With ECG trigger information each clip starts at
 * its first R wave and, by default, loops one cardiac cycle stretched to the length of the first stage's (rest's)
 * cycle, so rest and peak stay at the same point of the cycle loop after loop even though the peak beats faster;
 * unticking "Same cycle length" plays every clip at its acquired rate, still from its first R wave.
 */
function StressQuad({ pool, studyInstanceUid, grid, view }: { pool: FramePool; studyInstanceUid: string; grid: NonNullable<ReturnType<typeof stressGrid>>; view: string | undefined }): ReactNode {
  const row = grid.views.find((v) => v.name === view) ?? grid.views[0]!;
  const clock = useMemo(() => new CineClock(), []);
  const [sameCycle, setSameCycle] = useState(true);
  const first = row.cells.find(Boolean);
  const fps = first ? cineTiming(first.metadata, first.frames).fps : 30;
  const cycles = useMemo(() => {
    const each = row.cells.map((cell) => cell && cardiacCycle(cell.metadata, cell.frames));
    const reference = each.find(Boolean);
    return each.map((c) => c && { startMs: c.startMs, lengthMs: c.lengthMs, displayMs: sameCycle && reference ? reference.lengthMs : c.lengthMs });
  }, [row, sameCycle]);
  // The grid is as wide as two clips of the first acquired stage's aspect ratio fitted to the window height.
  const aspect = first ? Number(first.metadata['00280011']?.Value?.[0] ?? 0) / Number(first.metadata['00280010']?.Value?.[0] ?? 0) : 0;
  const quadStyle = { '--cardio-aspect': Number.isFinite(aspect) && aspect > 0 ? aspect : 1 } as CSSProperties;
  const triggered = row.cells.some((cell) => cell && cardiacCycle(cell.metadata, cell.frames).rWaves > 0);
  useKeys(clock, fps);
  useEffect(() => {
    clock.play();
    return () => clock.pause();
  }, [clock, row]);
  return (
    <>
      <div className="cardio-controls">
        {grid.views.map((v) => (
          <a key={v.name} className="button" aria-current={v === row} href={`/cardio/${studyInstanceUid}/stress/${encodeURIComponent(v.name)}`} onClick={onLinkClick} data-testid="stress-view">
            {v.name}
          </a>
        ))}
        <label title="Loop one cardiac cycle of every clip over the same time, so stages at different heart rates stay in step">
          <input type="checkbox" checked={sameCycle} onChange={(e) => setSameCycle(e.target.checked)} data-testid="stress-same-cycle" /> Same cycle length
        </label>
        <span className="muted" data-testid="stress-sync">
          {triggered ? 'aligned on the first R wave' : 'no ECG trigger information: clips start at their first frame'}
        </span>
      </div>
      <CineControls clock={clock} fps={fps} label={`${row.name}: ${grid.stages.join(' / ')}`} />
      <div className="cardio-quad" data-testid="stress-quad" style={quadStyle}>
        {row.cells.map((cell, i) =>
          cell ? (
            <CinePlayer key={cell.sopInstanceUid} pool={pool} studyInstanceUid={studyInstanceUid} item={cell} clock={clock} cycle={cycles[i]} testId="stress-cell" />
          ) : (
            <p key={i} className="muted">{grid.stages[i]}: not acquired</p>
          ),
        )}
      </div>
    </>
  );
}
