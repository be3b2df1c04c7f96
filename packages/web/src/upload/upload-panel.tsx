import { useRef, type ReactNode } from 'react';
import { formatBytes } from '../format.js';
import { useUploads } from './upload-context.js';

const STATE_LABEL = { queued: 'Waiting', sending: 'Sending', stored: 'Stored', warning: 'Stored with warning', rejected: 'Rejected' } as const;

/** Buttons to pick files or a folder, the per-file progress and the summary of what was stored and rejected. */
export function UploadPanel({ compact = false }: { compact?: boolean }): ReactNode {
  const { items, add, clear } = useUploads();
  const filesInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const stored = items.filter((i) => i.state === 'stored' || i.state === 'warning').length;
  const rejected = items.filter((i) => i.state === 'rejected');
  const pending = items.filter((i) => i.state === 'queued' || i.state === 'sending').length;
  const totalBytes = items.reduce((n, i) => n + i.size, 0);
  const sentBytes = items.reduce((n, i) => n + i.sent, 0);
  if (compact && items.length === 0) return null;
  return (
    <section className="upload-panel" aria-label="Upload" data-testid="upload-panel">
      <div className="upload-actions">
        <button type="button" onClick={() => filesInput.current?.click()}>
          Choose files…
        </button>
        <button type="button" onClick={() => folderInput.current?.click()}>
          Choose a folder…
        </button>
        <input
          ref={filesInput}
          type="file"
          multiple
          hidden
          data-testid="upload-files"
          onChange={(e) => {
            add([...(e.currentTarget.files ?? [])]);
            e.currentTarget.value = '';
          }}
        />
        <input
          ref={folderInput}
          type="file"
          hidden
          // Not in React's typings: lets the picker choose a folder, whose files arrive with relative paths.
          {...{ webkitdirectory: '' }}
          onChange={(e) => {
            add([...(e.currentTarget.files ?? [])]);
            e.currentTarget.value = '';
          }}
        />
        {items.length > 0 && pending === 0 && (
          <button type="button" onClick={clear}>
            Clear list
          </button>
        )}
      </div>
      {items.length > 0 && (
        <>
          <p className="upload-summary" role="status" data-testid="upload-summary">
            {pending > 0 ? `Sending ${items.length - pending + 1} of ${items.length} (${formatBytes(sentBytes)} of ${formatBytes(totalBytes)}). ` : ''}
            {stored} stored, {rejected.length} rejected
          </p>
          <ul className="upload-list">
            {items.map((item) => (
              <li key={item.id} className={`upload-item upload-${item.state}`} data-testid="upload-item" data-state={item.state}>
                <span className="upload-name" title={item.name}>
                  {item.name}
                </span>
                <progress max={item.size || 1} value={item.sent} aria-label={`Progress of ${item.name}`} />
                <span className="upload-state">{STATE_LABEL[item.state]}</span>
                {item.reason && <span className="upload-reason">{item.reason}</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
