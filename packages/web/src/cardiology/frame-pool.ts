/** Browser side of per-frame loading: a small pool of decoding workers and a per-clip frame cache. */
import type { FrameReply, FrameRequest } from './frame-worker.js';
import type { PixelLayout } from './frames.js';
import type { JsonDataset } from './cine.js';

/** A few workers shared by every player of the page; requests go to the least busy one. */
export class FramePool {
  readonly #workers: { worker: Worker; busy: number }[] = [];
  readonly #pending = new Map<number, { resolve: (b: ImageBitmap) => void; reject: (e: Error) => void; slot: { busy: number } }>();
  #next = 1;

  constructor(size = Math.max(2, Math.min(4, (navigator.hardwareConcurrency || 2) - 1))) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./frame-worker.ts', import.meta.url), { type: 'module' });
      const slot = { worker, busy: 0 };
      worker.addEventListener('message', (event: MessageEvent<FrameReply>) => {
        const waiting = this.#pending.get(event.data.id);
        if (!waiting) return;
        this.#pending.delete(event.data.id);
        waiting.slot.busy--;
        if ('bitmap' in event.data) waiting.resolve(event.data.bitmap);
        else waiting.reject(new Error(event.data.error));
      });
      this.#workers.push(slot);
    }
  }

  load(url: string, layout: PixelLayout): Promise<ImageBitmap> {
    const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.#next++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, url, layout } satisfies FrameRequest);
    });
  }

  close(): void {
    for (const { worker } of this.#workers) worker.terminate();
    for (const p of this.#pending.values()) p.reject(new Error('Cannot load frame: the page closed'));
    this.#pending.clear();
  }
}

export function pixelLayout(ds: JsonDataset): PixelLayout {
  const n = (tag: string, fallback: number): number => {
    const v = Number(ds[tag]?.Value?.[0]);
    return Number.isFinite(v) && ds[tag]?.Value?.[0] !== undefined ? v : fallback;
  };
  return {
    rows: n('00280010', 0),
    columns: n('00280011', 0),
    samplesPerPixel: n('00280002', 1),
    bitsAllocated: n('00280100', 8),
    pixelRepresentation: n('00280103', 0),
    photometricInterpretation: String(ds['00280004']?.Value?.[0] ?? 'MONOCHROME2'),
    planarConfiguration: n('00280006', 0),
  };
}

/**
 * The frames of one clip, fetched one request per frame from the frame the player needs onward, a few at a time,
 * so the first frame shows while the rest still arrive.
 */
export class ClipFrames {
  readonly frames: (ImageBitmap | undefined)[];
  readonly layout: PixelLayout;
  #inFlight = 0;
  #cursor = 0;
  #closed = false;
  loaded = 0;
  firstFrameAt: number | undefined;
  onFrame: ((index: number) => void) | undefined;

  constructor(
    readonly pool: FramePool,
    readonly baseUrl: string,
    frameCount: number,
    metadata: JsonDataset,
    readonly concurrency = 4,
  ) {
    this.frames = new Array<ImageBitmap | undefined>(frameCount).fill(undefined);
    this.layout = pixelLayout(metadata);
  }

  /** Starts or continues fetching from `from` (wrapping), keeping `concurrency` requests in flight. */
  pump(from = this.#cursor): void {
    this.#cursor = from;
    const n = this.frames.length;
    let scanned = 0;
    while (!this.#closed && this.#inFlight < this.concurrency && scanned < n) {
      const index = this.#cursor % n;
      this.#cursor = index + 1;
      scanned++;
      if (this.frames[index] !== undefined || this.#requested.has(index)) continue;
      this.#requested.add(index);
      this.#inFlight++;
      this.pool.load(`${this.baseUrl}/frames/${index + 1}`, this.layout).then(
        (bitmap) => {
          this.#inFlight--;
          if (this.#closed) return bitmap.close();
          this.frames[index] = bitmap;
          this.loaded++;
          this.firstFrameAt ??= performance.now();
          this.onFrame?.(index);
          this.pump();
        },
        () => {
          this.#inFlight--;
          this.#requested.delete(index);
        },
      );
    }
  }
  readonly #requested = new Set<number>();

  close(): void {
    this.#closed = true;
    for (const f of this.frames) f?.close();
  }
}
