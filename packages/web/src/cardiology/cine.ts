/** Cine timing of multi-frame ultrasound and XA objects (PS3.3 §C.7.6.5 Cine Module, §C.7.6.6 Multi-frame). */

/** The few DICOM JSON shapes this module reads; kept local so it runs in node tests. */
export type JsonDataset = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string } | undefined>;

const FRAME_TIME = '00181063';
const FRAME_TIME_VECTOR = '00181065';
const CINE_RATE = '00180040';
const RECOMMENDED_DISPLAY_FRAME_RATE = '00082144';
const FRAME_INCREMENT_POINTER = '00280009';
const NUMBER_OF_FRAMES = '00280008';

function numbers(ds: JsonDataset, tag: string): number[] {
  return (ds[tag]?.Value ?? []).map(Number).filter((n) => Number.isFinite(n));
}

function first(ds: JsonDataset, tag: string): number | undefined {
  const n = numbers(ds, tag)[0];
  return n !== undefined && n > 0 ? n : undefined;
}

export interface CineTiming {
  /** Frames per second as acquired. */
  readonly fps: number;
  /** Start time of each frame, ms from the first, one per frame. */
  readonly offsets: readonly number[];
  /** Which attribute gave the timing. */
  readonly source: 'FrameTimeVector' | 'FrameTime' | 'CineRate' | 'RecommendedDisplayFrameRate' | 'default';
}

/**
 * The acquired timing of a multi-frame object: the attribute named by Frame Increment Pointer first (Frame Time
 * Vector gives per-frame increments, the first 0), then Frame Time, Cine Rate, Recommended Display Frame Rate,
 * else 30 fps.
 */
export function cineTiming(ds: JsonDataset, frameCount = first(ds, NUMBER_OF_FRAMES) ?? 1): CineTiming {
  const pointer = String(ds[FRAME_INCREMENT_POINTER]?.Value?.[0] ?? '').toUpperCase();
  const vector = numbers(ds, FRAME_TIME_VECTOR);
  const useVector = vector.length >= frameCount && (pointer === FRAME_TIME_VECTOR || first(ds, FRAME_TIME) === undefined);
  if (useVector) {
    const offsets: number[] = [];
    let t = 0;
    for (let i = 0; i < frameCount; i++) {
      t += i === 0 ? 0 : vector[i]!;
      offsets.push(t);
    }
    const span = offsets[offsets.length - 1]!;
    const fps = frameCount > 1 && span > 0 ? ((frameCount - 1) * 1000) / span : 30;
    return { fps, offsets, source: 'FrameTimeVector' };
  }
  const frameTime = first(ds, FRAME_TIME);
  const cineRate = first(ds, CINE_RATE);
  const recommended = first(ds, RECOMMENDED_DISPLAY_FRAME_RATE);
  const [fps, source]: [number, CineTiming['source']] = frameTime
    ? [1000 / frameTime, 'FrameTime']
    : cineRate
      ? [cineRate, 'CineRate']
      : recommended
        ? [recommended, 'RecommendedDisplayFrameRate']
        : [30, 'default'];
  return { fps, offsets: Array.from({ length: frameCount }, (_, i) => (i * 1000) / fps), source };
}

/** Length of one loop of the clip in ms: the last frame is shown for one mean frame interval. */
export function clipDuration(timing: CineTiming): number {
  const last = timing.offsets[timing.offsets.length - 1] ?? 0;
  return last + 1000 / timing.fps;
}

/**
 * Clip time, ms, `elapsedMs` of wall time after playback started at `speed` (0.25 to 1): wall time × speed, looped
 * over the clip's duration, or held just before its end without `loop`. Paired with `frameAtTime`, a slow display
 * drops frames and never slows the clip down.
 */
export function clipTimeOf(timing: CineTiming, elapsedMs: number, speed: number, loop: boolean): number {
  const duration = clipDuration(timing);
  const t = elapsedMs * speed;
  if (loop) return ((t % duration) + duration) % duration;
  return Math.min(t, duration - 1e-6);
}

/** The frame shown at clip time `t` ms: the latest whose start time is not after it. */
export function frameAtTime(timing: CineTiming, t: number): number {
  const offsets = timing.offsets;
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= t + 1e-6) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The part of a clip that synchronised playback loops, and how long one loop lasts on screen. */
export interface CinePlaybackCycle {
  /** Clip time where the loop starts (the first R wave), ms. */
  readonly startMs: number;
  /** Clip time one loop covers (one cardiac cycle, or the whole clip), ms. */
  readonly lengthMs: number;
  /** Wall time at 1x that one loop lasts; equal to `lengthMs` plays at the acquired rate. */
  readonly displayMs: number;
}

/**
 * Clip time for synchronised playback: the clip loops `cycle` from its start, the cycle stretched or compressed to
 * `displayMs` of (speed-scaled) wall time, so clips whose cardiac cycles differ in length (rest and peak stress)
 * are at the same fraction of their cycle at every moment, loop after loop. Wraps at the clip's end (a one-beat
 * clip whose R wave is mid-clip); without `loop`, holds the end of the cycle.
 */
export function cycleClipTime(timing: CineTiming, cycle: CinePlaybackCycle, elapsedMs: number, speed: number, loop: boolean): number {
  const display = Math.max(1e-6, cycle.displayMs);
  const u = loop ? (((elapsedMs * speed) % display) + display) % display : Math.min(elapsedMs * speed, display * (1 - 1e-6));
  const duration = clipDuration(timing);
  return (cycle.startMs + (u * cycle.lengthMs) / display) % duration;
}

/** Speeds offered, as fractions of the acquired rate. */
export const CINE_SPEEDS = [0.25, 0.5, 0.75, 1] as const;

/** Counts frames actually painted over a sliding window of wall time. */
export class FpsMeter {
  readonly #times: number[] = [];
  constructor(readonly windowMs = 1000) {}
  /** Records one painted frame at `now` ms. */
  paint(now: number): void {
    this.#times.push(now);
    while (this.#times.length > 0 && this.#times[0]! < now - this.windowMs) this.#times.shift();
  }
  /** Frames per second over the window (0 before two paints). */
  fps(): number {
    const n = this.#times.length;
    if (n < 2) return 0;
    const span = this.#times[n - 1]! - this.#times[0]!;
    return span > 0 ? ((n - 1) * 1000) / span : 0;
  }
  /** Wall time the recorded paints cover, ms: a rate is only trustworthy once this nears the window. */
  span(): number {
    const n = this.#times.length;
    return n < 2 ? 0 : this.#times[n - 1]! - this.#times[0]!;
  }
  reset(): void {
    this.#times.length = 0;
  }
}

/** The status line of the player: "playing 58 fps of 60 acquired". */
export function cineStatus(playing: boolean, shownFps: number, acquiredFps: number, speed: number): string {
  const acquired = `${Math.round(acquiredFps)} acquired`;
  const target = speed !== 1 ? ` at ${speed}x` : '';
  return playing ? `playing ${Math.round(shownFps)} fps of ${acquired}${target}` : `paused, ${acquired}${target}`;
}

/**
 * Wall-clock of one or more players: synchronised players share one, so the same instant gives every clip its
 * frame. Elapsed time is wall time; each player multiplies by the speed and adds its own R-wave offset.
 */
export class CineClock {
  playing = false;
  speed = 1;
  loop = true;
  #anchor = 0;
  #paused = 0;
  readonly #listeners = new Set<() => void>();

  elapsed(now = performance.now()): number {
    return this.playing ? now - this.#anchor : this.#paused;
  }
  play(now = performance.now()): void {
    if (this.playing) return;
    this.#anchor = now - this.#paused;
    this.playing = true;
    this.#emit();
  }
  pause(now = performance.now()): void {
    if (!this.playing) return;
    this.#paused = now - this.#anchor;
    this.playing = false;
    this.#emit();
  }
  /** Moves the paused clock by `clipMs` of clip time (one frame when stepping). */
  step(clipMs: number): void {
    this.pause();
    this.#paused = Math.max(0, this.#paused + clipMs / this.speed);
    this.#emit();
  }
  setSpeed(speed: number, now = performance.now()): void {
    const clip = this.elapsed(now) * this.speed;
    this.speed = speed;
    if (this.playing) this.#anchor = now - clip / speed;
    else this.#paused = clip / speed;
    this.#emit();
  }
  setLoop(loop: boolean): void {
    this.loop = loop;
    this.#emit();
  }
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  #emit(): void {
    for (const l of this.#listeners) l();
  }
}
