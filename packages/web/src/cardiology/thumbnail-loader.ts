/**
 * Browser side of the auto-playing thumbnails: one queue of small rendered frames for the whole page, a couple at
 * a time and at low fetch priority so the clip being read keeps the network and the server, and one animation
 * loop that runs only while some thumbnail is on screen.
 */

interface Job {
  readonly owner: object;
  readonly url: string;
  readonly resolve: (bitmap: ImageBitmap) => void;
  readonly reject: (error: Error) => void;
  controller?: AbortController;
}

export class ThumbnailLoader {
  readonly #queue: Job[] = [];
  readonly #running = new Set<Job>();
  readonly #painters = new Set<(now: number) => void>();
  #raf = 0;
  #closed = false;

  constructor(readonly concurrency = 2) {}

  /** Fetches one rendered frame (JPEG) for `owner` and decodes it; rejected when `cancel(owner)` comes first. */
  load(owner: object, url: string): Promise<ImageBitmap> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error('Cannot load thumbnail frame: the page closed'));
      this.#queue.push({ owner, url, resolve, reject });
      this.#next();
    });
  }

  /** Drops `owner`'s queued and running loads: its thumbnail went off screen. */
  cancel(owner: object): void {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const job = this.#queue[i]!;
      if (job.owner !== owner) continue;
      this.#queue.splice(i, 1);
      job.reject(new DOMException('Thumbnail off screen', 'AbortError'));
    }
    for (const job of this.#running) if (job.owner === owner) job.controller?.abort();
  }

  /** Calls `paint` on every animation frame until the returned function is called. */
  onFrame(paint: (now: number) => void): () => void {
    this.#painters.add(paint);
    if (this.#raf === 0 && !this.#closed) this.#raf = requestAnimationFrame(this.#tick);
    return () => this.#painters.delete(paint);
  }

  close(): void {
    this.#closed = true;
    cancelAnimationFrame(this.#raf);
    this.#painters.clear();
    for (const job of this.#queue.splice(0)) job.reject(new Error('Cannot load thumbnail frame: the page closed'));
    for (const job of this.#running) job.controller?.abort();
  }

  readonly #tick = (now: number): void => {
    if (this.#painters.size === 0 || this.#closed) {
      this.#raf = 0;
      return;
    }
    this.#raf = requestAnimationFrame(this.#tick);
    for (const paint of this.#painters) paint(now);
  };

  #next(): void {
    while (this.#running.size < this.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      job.controller = new AbortController();
      this.#running.add(job);
      void (async () => {
        try {
          const response = await fetch(job.url, { signal: job.controller!.signal, priority: 'low' } as RequestInit);
          if (!response.ok) throw new Error(`Cannot load thumbnail frame '${job.url}': HTTP ${response.status}`);
          job.resolve(await createImageBitmap(await response.blob()));
        } catch (e) {
          job.reject(e instanceof Error ? e : new Error(String(e)));
        } finally {
          this.#running.delete(job);
          if (!this.#closed) this.#next();
        }
      })();
    }
  }
}
