import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { dicomHostFor, fetchWorklist, ohifStudyUrl, thumbnailUrl, type SortKey, type WorklistFilters, type WorklistPage as Page } from '../api.js';
import { useServices } from '../app.js';
import { useStudyEvents } from '../events.js';
import { formatDate, formatPersonName, formatTime } from '../format.js';
import { navigate, onLinkClick } from '../routing.js';
import { StudyGlyph } from '../study-glyph.js';
import { hasImages, studyViewUrl } from '../study-kind.js';
import { DropZone } from '../upload/drop-zone.js';
import { UploadPanel } from '../upload/upload-panel.js';

const EMPTY_FILTERS: WorklistFilters = { patient: '', accessionNumber: '', studyDescription: '', modality: '', dateFrom: '', dateTo: '' };
const MODALITIES = ['CT', 'MR', 'US', 'CR', 'DX', 'MG', 'XA', 'RF', 'NM', 'PT', 'OT', 'SR', 'ECG', 'IVUS', 'OCT'];
const PAGE_SIZES = [25, 50, 100];

const COLUMNS: { key: SortKey; label: string; className?: string }[] = [
  { key: 'patientName', label: 'Patient' },
  { key: 'patientId', label: 'Patient ID' },
  { key: 'studyDate', label: 'Date' },
  { key: 'accessionNumber', label: 'Accession' },
  { key: 'modalities', label: 'Modality' },
  { key: 'studyDescription', label: 'Description' },
  { key: 'numberOfSeries', label: 'Series', className: 'num' },
  { key: 'numberOfInstances', label: 'Images', className: 'num' },
];

/** Filters, sort and page live in the address, so a search can be bookmarked and Back returns to it. */
function readState(search: string) {
  const params = new URLSearchParams(search);
  const filters = { ...EMPTY_FILTERS };
  for (const key of Object.keys(EMPTY_FILTERS) as (keyof WorklistFilters)[]) filters[key] = params.get(key) ?? '';
  const sort = (params.get('sort') as SortKey | null) ?? 'studyDate';
  const order = params.get('order') === 'asc' ? 'asc' : params.get('order') === 'desc' ? 'desc' : sort === 'studyDate' ? 'desc' : 'asc';
  return { filters, sort, order: order as 'asc' | 'desc', offset: Number(params.get('offset') ?? 0) || 0, limit: Number(params.get('limit') ?? 25) || 25 };
}

export function WorklistPage(): ReactNode {
  const { config } = useServices();
  const initial = readState(window.location.search);
  const [filters, setFilters] = useState(initial.filters);
  const [sort, setSort] = useState<SortKey>(initial.sort);
  const [order, setOrder] = useState(initial.order);
  const [offset, setOffset] = useState(initial.offset);
  const [limit, setLimit] = useState(initial.limit);
  const [page, setPage] = useState<Page | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [refresh, setRefresh] = useState(0);
  const [liveCount, setLiveCount] = useState(0);
  const searchInput = useRef<HTMLInputElement>(null);
  const rows = useRef<(HTMLTableRowElement | null)[]>([]);

  useEffect(() => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
    if (sort !== 'studyDate' || order !== 'desc') params.set('sort', sort), params.set('order', order);
    if (offset) params.set('offset', String(offset));
    if (limit !== 25) params.set('limit', String(limit));
    const query = params.toString();
    window.history.replaceState(null, '', query ? `/?${query}` : '/');
  }, [filters, sort, order, offset, limit]);

  useEffect(() => {
    const controller = new AbortController();
    // Typing in a filter waits for a pause before asking the server.
    const timer = setTimeout(() => {
      fetchWorklist(filters, sort, order, offset, limit, controller.signal).then(
        (result) => {
          setPage(result);
          setError(undefined);
        },
        (e: unknown) => {
          if (!controller.signal.aborted) setError(e instanceof Error ? e.message : String(e));
        },
      );
    }, 200);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [filters, sort, order, offset, limit, refresh]);

  // A study stored by anyone (C-STORE, another browser, an import) appears without a reload.
  const pendingRefresh = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useStudyEvents(
    useCallback(() => {
      clearTimeout(pendingRefresh.current);
      pendingRefresh.current = setTimeout(() => {
        setRefresh((n) => n + 1);
        setLiveCount((n) => n + 1);
      }, 300);
    }, []),
  );

  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (event.key === '/' && !['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) {
        event.preventDefault();
        searchInput.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const setFilter = (key: keyof WorklistFilters, value: string) => {
    setFilters((current) => ({ ...current, [key]: value }));
    setOffset(0);
  };
  const sortBy = (key: SortKey) => {
    if (key === sort) setOrder(order === 'asc' ? 'desc' : 'asc');
    else {
      setSort(key);
      setOrder(key === 'studyDate' || key === 'numberOfInstances' || key === 'numberOfSeries' ? 'desc' : 'asc');
    }
    setOffset(0);
  };
  const filtered = Object.values(filters).some((v) => v.trim() !== '');
  const onRowKey = (event: KeyboardEvent<HTMLTableRowElement>, index: number, studyInstanceUid: string, modalities: readonly string[]) => {
    if (event.key === 'Enter') navigate(`/studies/${studyInstanceUid}`);
    else if (event.key === 'v') navigate(studyViewUrl(studyInstanceUid, modalities));
    else if (event.key === 'o' && config.ohifPath) window.location.assign(ohifStudyUrl(config.ohifPath, studyInstanceUid));
    else if (event.key === 'ArrowDown') rows.current[index + 1]?.focus();
    else if (event.key === 'ArrowUp') (index === 0 ? searchInput.current : rows.current[index - 1])?.focus();
    else return;
    event.preventDefault();
  };

  const host = dicomHostFor(config, window.location);
  return (
    <DropZone className="page worklist">
      <form className="filters" role="search" aria-label="Find studies" onSubmit={(e) => e.preventDefault()}>
        <label>
          Patient name or ID
          <input ref={searchInput} data-testid="filter-patient" value={filters.patient} onChange={(e) => setFilter('patient', e.target.value)} placeholder="Press / to search" autoFocus
            onKeyDown={(e) => {
              if (e.key === 'ArrowDown') {
                e.preventDefault();
                rows.current[0]?.focus();
              }
            }}
          />
        </label>
        <label>
          Accession
          <input data-testid="filter-accession" value={filters.accessionNumber} onChange={(e) => setFilter('accessionNumber', e.target.value)} />
        </label>
        <label>
          From
          <input type="date" data-testid="filter-date-from" value={filters.dateFrom} onChange={(e) => setFilter('dateFrom', e.target.value)} />
        </label>
        <label>
          To
          <input type="date" data-testid="filter-date-to" value={filters.dateTo} onChange={(e) => setFilter('dateTo', e.target.value)} />
        </label>
        <label>
          Modality
          <select data-testid="filter-modality" value={filters.modality} onChange={(e) => setFilter('modality', e.target.value)}>
            <option value="">Any</option>
            {MODALITIES.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label>
          Description
          <input data-testid="filter-description" value={filters.studyDescription} onChange={(e) => setFilter('studyDescription', e.target.value)} />
        </label>
        {filtered && (
          <button type="button" onClick={() => (setFilters(EMPTY_FILTERS), setOffset(0))}>
            Clear
          </button>
        )}
      </form>

      {!(page && page.total === 0 && !filtered) && <UploadPanel compact />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}

      {page && page.total === 0 && !filtered && (
        <div className="empty-state" data-testid="empty-state">
          <h2>No studies yet</h2>
          <p>
            Drop DICOM files or folders here
            {config.dicomEnabled && (
              <>
                {' '}
                or send to AE <strong>{config.aeTitle}</strong> at <strong>{host}:{config.dicomPort}</strong>
              </>
            )}
            .
          </p>
          <p>
            To try Atrium on synthetic studies (a CT and one of each cardiology view), run <code>npx atrium demo</code> in
            the directory where you started Atrium: they appear here at once.
          </p>
          <UploadPanel />
        </div>
      )}
      {page && page.total === 0 && filtered && <p className="empty-results" data-testid="no-match">No study matches these filters.</p>}

      {page && page.total > 0 && (
        <>
          <table className="worklist-table" data-testid="worklist" aria-rowcount={page.total} data-live={liveCount}>
            <thead>
              <tr>
                <th scope="col" aria-label="Thumbnail" />
                {COLUMNS.map((c) => (
                  <th key={c.key} scope="col" className={c.className} aria-sort={sort === c.key ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
                    <button type="button" data-testid={`sort-${c.key}`} onClick={() => sortBy(c.key)}>
                      {c.label}
                      <span aria-hidden="true">{sort === c.key ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
                    </button>
                  </th>
                ))}
                <th scope="col">Open</th>
              </tr>
            </thead>
            <tbody>
              {page.studies.map((s, index) => (
                <tr
                  key={s.studyInstanceUid}
                  ref={(el) => {
                    rows.current[index] = el;
                  }}
                  tabIndex={0}
                  data-testid="study-row"
                  data-study-uid={s.studyInstanceUid}
                  onKeyDown={(e) => onRowKey(e, index, s.studyInstanceUid, s.modalities)}
                  onDoubleClick={() => navigate(`/studies/${s.studyInstanceUid}`)}
                >
                  <td className="thumb">
                    {hasImages(s.modalities) ? (
                      <img src={thumbnailUrl(s.studyInstanceUid)} alt="" loading="lazy" width={48} height={48} />
                    ) : (
                      <StudyGlyph modalities={s.modalities} size={48} />
                    )}
                  </td>
                  <td>
                    <a href={`/studies/${s.studyInstanceUid}`} onClick={onLinkClick} data-testid="study-link">
                      {formatPersonName(s.patientName) || '(no name)'}
                    </a>
                  </td>
                  <td>{s.patientId}</td>
                  <td>
                    {formatDate(s.studyDate)} <span className="muted">{formatTime(s.studyTime)}</span>
                  </td>
                  <td>{s.accessionNumber}</td>
                  <td>{s.modalities.join(', ')}</td>
                  <td>{s.studyDescription}</td>
                  <td className="num" data-testid="series-count">
                    {s.numberOfSeries}
                  </td>
                  <td className="num" data-testid="instance-count">
                    {s.numberOfInstances}
                  </td>
                  <td className="open">
                    <a href={studyViewUrl(s.studyInstanceUid, s.modalities)} onClick={onLinkClick} data-testid="open-viewer" title="Open in Atrium's viewer (v)">
                      View
                    </a>
                    {config.ohifPath && (
                      <a href={ohifStudyUrl(config.ohifPath, s.studyInstanceUid)} data-testid="open-ohif" title="Open in OHIF (o)">
                        OHIF
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))} data-testid="page-previous">
              Previous
            </button>
            <span data-testid="page-range">
              {page.offset + 1}–{page.offset + page.studies.length} of {page.total}
            </span>
            <button type="button" disabled={offset + limit >= page.total} onClick={() => setOffset(offset + limit)} data-testid="page-next">
              Next
            </button>
            <label>
              Per page
              <select value={limit} onChange={(e) => (setLimit(Number(e.target.value)), setOffset(0))} data-testid="page-size">
                {[...new Set([...PAGE_SIZES, limit])].sort((a, b) => a - b).map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          </nav>
        </>
      )}
      <p className="hint">Keys: / search, ↑↓ move, Enter open study, v view, o OHIF. Drop files or folders anywhere to upload.</p>
    </DropZone>
  );
}
