import { useSyncExternalStore, type MouseEvent } from 'react';
import { parseChartRoute, type ChartRoute } from './chart/routes.js';
import { parseCardiologyRoute, type CardiologyRoute } from './cardiology/routes.js';

/** A tiny history router: the app has four routes, which does not warrant a routing library. */
const NAVIGATE_EVENT = 'atrium:navigate';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(NAVIGATE_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(NAVIGATE_EVENT, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function useLocationPath(): string {
  return useSyncExternalStore(subscribe, snapshot);
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

/** Follows an in-app link without a page load, unless the person asked for a new tab or window. */
export function onLinkClick(event: MouseEvent<HTMLAnchorElement>): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(event.currentTarget.getAttribute('href') ?? '/');
}

export type Route =
  | { page: 'worklist' }
  | { page: 'upload' }
  | { page: 'study'; studyInstanceUid: string }
  | { page: 'viewer'; studyInstanceUid: string; seriesInstanceUid?: string }
  | ChartRoute
  | CardiologyRoute
  | { page: 'not-found' };

export function parseRoute(path: string): Route {
  const pathname = path.split('?')[0] ?? '/';
  if (pathname === '/' || pathname === '') return { page: 'worklist' };
  if (pathname === '/upload') return { page: 'upload' };
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const other = parseChartRoute(parts) ?? parseCardiologyRoute(parts);
  if (other) return other;
  if (parts[0] === 'studies' && parts[1]) {
    if (parts.length === 2) return { page: 'study', studyInstanceUid: parts[1] };
    if (parts.length === 3 && parts[2] === 'view') return { page: 'viewer', studyInstanceUid: parts[1] };
    if (parts.length === 4 && parts[2] === 'series' && parts[3]) return { page: 'viewer', studyInstanceUid: parts[1], seriesInstanceUid: parts[3] };
  }
  return { page: 'not-found' };
}
