import { useEffect, useRef, type ReactNode } from 'react';
import { cineTiming } from './cine.js';
import type { CardioItem } from './echo-layout.js';
import { thumbnailFrameAt, thumbnailFrames } from './thumbnail-cine.js';
import type { ThumbnailLoader } from './thumbnail-loader.js';

export const THUMBNAIL_WIDTH = 160;
export const THUMBNAIL_HEIGHT = 120;

/**
 * A clip's thumbnail that loops the clip at a reduced rate (at most 15 fps, at most 48 frames) from small
 * server-rendered frames (`frames/{n}/thumbnail?viewport=160,120`), at the clip's own tempo; it loads and plays
 * only while on screen.
 */
export function ThumbnailClip({ loader, studyInstanceUid, item }: { loader: ThumbnailLoader; studyInstanceUid: string; item: CardioItem }): ReactNode {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context) return;
    const owner = {};
    const timing = cineTiming(item.metadata, item.frames);
    const frames = thumbnailFrames(timing);
    const bitmaps: (ImageBitmap | undefined)[] = frames.map(() => undefined);
    const requested = new Set<number>();
    const base = `/dicom-web/studies/${studyInstanceUid}/series/${item.seriesInstanceUid}/instances/${item.sopInstanceUid}/frames`;
    const started = performance.now();
    let shown = -1;
    let loaded = 0;
    let stopPainting: (() => void) | undefined;
    let closed = false;

    const paint = (now: number): void => {
      const position = thumbnailFrameAt(timing, frames, now - started);
      const bitmap = bitmaps[position];
      if (!bitmap || position === shown) return;
      // Fit inside the canvas, keeping the frame's aspect ratio.
      const scale = Math.min(THUMBNAIL_WIDTH / bitmap.width, THUMBNAIL_HEIGHT / bitmap.height);
      const w = bitmap.width * scale;
      const h = bitmap.height * scale;
      context.fillStyle = '#000';
      context.fillRect(0, 0, THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT);
      context.drawImage(bitmap, (THUMBNAIL_WIDTH - w) / 2, (THUMBNAIL_HEIGHT - h) / 2, w, h);
      shown = position;
      canvas.dataset.frame = String(frames[position]);
      canvas.dataset.paints = String(Number(canvas.dataset.paints ?? 0) + 1);
    };
    const play = (): void => {
      canvas.dataset.playing = 'true';
      frames.forEach((frame, position) => {
        if (bitmaps[position] || requested.has(position)) return;
        requested.add(position);
        loader.load(owner, `${base}/${frame + 1}/thumbnail?viewport=${THUMBNAIL_WIDTH},${THUMBNAIL_HEIGHT}`).then(
          (bitmap) => {
            if (closed) return bitmap.close();
            bitmaps[position] = bitmap;
            canvas.dataset.loaded = String(++loaded);
          },
          () => requested.delete(position),
        );
      });
      stopPainting ??= loader.onFrame(paint);
    };
    const pause = (): void => {
      canvas.dataset.playing = 'false';
      loader.cancel(owner);
      stopPainting?.();
      stopPainting = undefined;
    };
    canvas.dataset.frames = String(frames.length);
    pause();
    // Off screen (scrolled out of the list or the page), a thumbnail neither loads nor paints.
    const observer = new IntersectionObserver((entries) => (entries.some((e) => e.isIntersecting) ? play() : pause()));
    observer.observe(canvas);
    return () => {
      closed = true;
      observer.disconnect();
      pause();
      for (const b of bitmaps) b?.close();
    };
  }, [loader, studyInstanceUid, item]);
  return <canvas ref={canvasRef} width={THUMBNAIL_WIDTH} height={THUMBNAIL_HEIGHT} data-testid="cardio-thumb-cine" />;
}
