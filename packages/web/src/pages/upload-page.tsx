import type { ReactNode } from 'react';
import { DropZone } from '../upload/drop-zone.js';
import { UploadPanel } from '../upload/upload-panel.js';

export function UploadPage(): ReactNode {
  return (
    <DropZone className="page">
      <h1>Upload</h1>
      <p className="hint">Drop DICOM files or whole folders anywhere on this page, or choose them. Each file is stored with STOW-RS.</p>
      <UploadPanel />
    </DropZone>
  );
}
