import { useState, type ReactNode } from 'react';
import { filesOfDrop } from './stow.js';
import { useUploads } from './upload-context.js';

/** Makes its whole area a drop target for files and folders; what is dropped goes to the upload queue. */
export function DropZone({ children, className = '' }: { children: ReactNode; className?: string }): ReactNode {
  const { add } = useUploads();
  const [over, setOver] = useState(false);
  return (
    <div
      className={`drop-zone ${over ? 'drop-over' : ''} ${className}`}
      data-testid="drop-zone"
      onDragOver={(event) => {
        if (![...event.dataTransfer.types].includes('Files')) return;
        event.preventDefault();
        event.dataTransfer.dropEffect = 'copy';
        setOver(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setOver(false);
      }}
      onDrop={(event) => {
        event.preventDefault();
        setOver(false);
        void filesOfDrop(event.dataTransfer).then(add);
      }}
    >
      {children}
      {over && (
        <div className="drop-overlay" aria-hidden="true">
          Drop DICOM files or folders to store them in Atrium
        </div>
      )}
    </div>
  );
}
