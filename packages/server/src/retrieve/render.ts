import sharp from 'sharp';
import type { FrameRef } from '@atrium/dicom';
import type { BlobStore } from '@atrium/store';
import { pixelModuleOf, type PixelModuleSource } from './pixel-module.js';
import { readFrame } from './stored-bytes.js';
import type { TranscoderPool } from './transcoder.js';
import { TranscodeError } from './errors.js';

/** Media types a rendered image can be sent as (PS3.18 §8.7.4, rendered media types). */
export const RENDERED_MEDIA_TYPES = ['image/jpeg', 'image/png', 'image/gif'] as const;
export type RenderedMediaType = (typeof RENDERED_MEDIA_TYPES)[number];

/** Presentation of a rendered image (PS3.18 §8.3.5: window, viewport, quality). */
export interface RenderOptions {
  mediaType: RenderedMediaType;
  /** 1-100, for lossy media types. */
  quality?: number;
  /** Scale to fit inside width x height (aspect kept); optionally of the source region first. */
  viewport?: {
    width: number;
    height: number;
    region?: { x: number; y: number; width: number; height: number };
    /** Only shrink to the box, never enlarge (a default thumbnail size). */
    shrinkOnly?: boolean;
  };
  /** VOI window replacing the instance's own (linear function). */
  window?: { center: number; width: number };
}

/** Encodes RGBA pixels as the media type asked, cropped and scaled as the viewport says. sharp runs off the loop. */
export async function encodeRendered(
  rgba: Uint8Array,
  width: number,
  height: number,
  options: RenderOptions,
): Promise<Buffer> {
  let image = sharp(rgba, { raw: { width, height, channels: 4 } });
  const region = options.viewport?.region;
  if (region) {
    const left = Math.max(0, Math.min(width - 1, Math.round(region.x)));
    const top = Math.max(0, Math.min(height - 1, Math.round(region.y)));
    image = image.extract({
      left,
      top,
      width: Math.max(1, Math.min(width - left, Math.round(region.width))),
      height: Math.max(1, Math.min(height - top, Math.round(region.height))),
    });
  }
  if (options.viewport) {
    image = image.resize({
      width: options.viewport.width,
      height: options.viewport.height,
      fit: 'inside',
      withoutEnlargement: options.viewport.shrinkOnly === true,
    });
  }
  const quality = options.quality ?? 90;
  switch (options.mediaType) {
    case 'image/jpeg':
      return image.removeAlpha().jpeg({ quality }).toBuffer();
    case 'image/png':
      return image.png().toBuffer();
    case 'image/gif':
      return image.gif().toBuffer();
  }
}

/** An instance as rendering needs it: its recorded metadata and frame locations. */
export interface RenderSource extends PixelModuleSource {
  sopInstanceUid: string;
  transferSyntaxUid: string;
  frames: readonly FrameRef[];
}

/**
 * Renders one frame (0-based) of an instance (PS3.18 §10.4.1.1.3 rendered resources): only that frame is read
 * from the blob, decoded and windowed in a codec worker, then encoded by sharp.
 */
export async function renderFrame(
  transcoder: TranscoderPool,
  store: BlobStore,
  source: RenderSource,
  frameIndex: number,
  options: RenderOptions,
): Promise<Buffer> {
  const frame = source.frames[frameIndex];
  if (!frame) {
    throw new TranscodeError(`Cannot render frame ${frameIndex + 1} of instance '${source.sopInstanceUid}': it has ${source.frames.length} frames`, {
      code: 'ATRIUM_ERR_RETRIEVE_RENDER',
      httpStatus: 404,
    });
  }
  const [module, bytes] = await Promise.all([pixelModuleOf(store, source), readFrame(store, source, frame)]);
  const rendered = await transcoder.render(module, source.transferSyntaxUid, bytes, options.window);
  return encodeRendered(rendered.rgba, rendered.width, rendered.height, options);
}
