/** Fetches one frame over WADO-RS and decodes it to an ImageBitmap off the main thread. */
import { firstPartBody, toRgba, type PixelLayout } from './frames.js';

export interface FrameRequest {
  readonly id: number;
  readonly url: string;
  readonly layout: PixelLayout;
}
export type FrameReply = { id: number; bitmap: ImageBitmap } | { id: number; error: string };

/** Native little endian: the server sends stored native frames as they are and converts others. */
const ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1';

const scope = globalThis as unknown as Worker;
scope.addEventListener('message', (event: MessageEvent<FrameRequest>) => {
  const { id, url, layout } = event.data;
  void (async () => {
    try {
      const response = await fetch(url, { headers: { accept: ACCEPT } });
      if (!response.ok) throw new Error(`Cannot load frame '${url}': HTTP ${response.status}`);
      const body = firstPartBody(new Uint8Array(await response.arrayBuffer()), response.headers.get('content-type') ?? '');
      const rgba = toRgba(body, layout);
      const bitmap = await createImageBitmap(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, layout.columns, layout.rows));
      scope.postMessage({ id, bitmap } satisfies FrameReply, [bitmap]);
    } catch (e) {
      scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) } satisfies FrameReply);
    }
  })();
});
