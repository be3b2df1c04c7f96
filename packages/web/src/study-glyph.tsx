import type { ReactNode } from 'react';
import { isWaveformStudy } from './study-kind.js';

/**
 * Stands in for the thumbnail of a study or series without images: a waveform trace for waveforms, with the
 * modalities written under it. Drawn in place, so no thumbnail is requested that the server cannot make.
 */
export function StudyGlyph({ modalities, size }: { modalities: readonly string[]; size: number }): ReactNode {
  const waveform = isWaveformStudy(modalities);
  return (
    <span className="study-glyph" style={{ width: size, height: size }} data-testid="study-glyph" role="img" aria-label={`${modalities.join(', ')} ${waveform ? 'waveform' : 'document'}, no image`}>
      <svg viewBox="0 0 48 24" width={size * 0.8} aria-hidden="true">
        {waveform ? (
          <polyline points="0,14 12,14 15,12 18,14 21,14 23,2 26,22 28,14 34,14 38,10 42,14 48,14" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinejoin="round" />
        ) : (
          <path d="M16 2h12l6 6v14H16z M28 2v6h6" fill="none" stroke="currentColor" strokeWidth="1.6" />
        )}
      </svg>
      {size >= 64 && <span>{modalities.join(' ')}</span>}
    </span>
  );
}
