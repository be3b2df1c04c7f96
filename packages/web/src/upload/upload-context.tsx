import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { stowFile, type StowOutcome } from './stow.js';

export interface UploadItem {
  id: number;
  name: string;
  size: number;
  sent: number;
  state: 'queued' | 'sending' | StowOutcome['status'];
  reason?: string;
}

interface UploadState {
  items: UploadItem[];
  add(files: readonly File[]): void;
  clear(): void;
}

const UploadContext = createContext<UploadState | null>(null);

/** Files sent at once: two keeps the connection busy without starving the viewer of requests. */
const CONCURRENCY = 2;

/**
 * The upload queue of the page: every drop (on the worklist or the upload page) adds to it, files go one STOW-RS
 * request each, two at a time, and stay listed with their outcome until cleared.
 */
export function UploadProvider({ children }: { children: ReactNode }): ReactNode {
  const [items, setItems] = useState<UploadItem[]>([]);
  const queue = useRef<{ id: number; file: File }[]>([]);
  const running = useRef(0);
  const nextId = useRef(1);

  const update = useCallback((id: number, change: Partial<UploadItem>) => {
    setItems((current) => current.map((item) => (item.id === id ? { ...item, ...change } : item)));
  }, []);

  const pump = useCallback(() => {
    while (running.current < CONCURRENCY && queue.current.length > 0) {
      const { id, file } = queue.current.shift()!;
      running.current++;
      update(id, { state: 'sending' });
      stowFile(file, (sent) => update(id, { sent }))
        .then(
          (outcome) => update(id, { state: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}) }),
          (error: unknown) => update(id, { state: 'rejected', reason: error instanceof Error ? error.message : String(error) }),
        )
        .finally(() => {
          running.current--;
          pump();
        });
    }
  }, [update]);

  const add = useCallback(
    (files: readonly File[]) => {
      const added = files.map((file) => ({ id: nextId.current++, file }));
      setItems((current) => [...current, ...added.map(({ id, file }) => ({ id, name: file.webkitRelativePath || file.name, size: file.size, sent: 0, state: 'queued' as const }))]);
      queue.current.push(...added);
      pump();
    },
    [pump],
  );

  const clear = useCallback(() => setItems((current) => current.filter((item) => item.state === 'queued' || item.state === 'sending')), []);
  const value = useMemo(() => ({ items, add, clear }), [items, add, clear]);
  return <UploadContext.Provider value={value}>{children}</UploadContext.Provider>;
}

export function useUploads(): UploadState {
  const state = useContext(UploadContext);
  if (!state) throw new Error('Cannot use uploads outside <UploadProvider>');
  return state;
}
