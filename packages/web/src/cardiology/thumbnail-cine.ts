/** Which frames a thumbnail loops, and when: a cheap preview of a clip beside the reading view. Pure. */
import { clipDuration, type CineTiming } from './cine.js';

export interface ThumbnailCineOptions {
  /** Highest rate a thumbnail plays at; default 15 fps (a quarter of a 60 fps echo's frames). */
  maxFps?: number;
  /** Most frames a thumbnail loads, whatever the clip's length; default 48. */
  maxFrames?: number;
}

/**
 * The 0-based frames a thumbnail loads: every n-th frame from the first, n chosen so that the thumbnail plays at
 * most `maxFps` and loads at most `maxFrames`, so a long or fast clip costs no more than a short slow one.
 */
export function thumbnailFrames(timing: CineTiming, options: ThumbnailCineOptions = {}): number[] {
  const count = timing.offsets.length;
  // Frame Time is a decimal string (33.33 for 30 fps): a rate a hair above a multiple of maxFps is that multiple.
  const stride = Math.max(1, Math.ceil(timing.fps / (options.maxFps ?? 15) - 0.01), Math.ceil(count / (options.maxFrames ?? 48)));
  const frames: number[] = [];
  for (let f = 0; f < count; f += stride) frames.push(f);
  return frames;
}

/**
 * The position in `frames` (from `thumbnailFrames`) to show `elapsedMs` after the thumbnail started: the latest
 * loaded-or-not sampled frame whose acquired time has passed, looping over the clip's whole duration, so the
 * thumbnail keeps the clip's real tempo at its reduced rate.
 */
export function thumbnailFrameAt(timing: CineTiming, frames: readonly number[], elapsedMs: number): number {
  const duration = clipDuration(timing);
  const t = ((elapsedMs % duration) + duration) % duration;
  let lo = 0;
  let hi = frames.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (timing.offsets[frames[mid]!]! <= t + 1e-6) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
