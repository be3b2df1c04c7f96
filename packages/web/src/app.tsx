import { createContext, lazy, Suspense, useContext, useState, type ReactNode } from 'react';
import type { BootConfig } from './api.js';
import { onLinkClick, parseRoute, useLocationPath } from './routing.js';
import { WorklistPage } from './pages/worklist-page.js';
import { UploadPage } from './pages/upload-page.js';
import { StudyPage } from './pages/study-page.js';
import { UploadProvider } from './upload/upload-context.js';
import type { ViewerRuntime } from './viewer/viewer-runtime.js';

interface AppServices {
  config: BootConfig;
  runtime: ViewerRuntime;
}

// The viewer brings Cornerstone3D (megabytes of code and codecs): loaded only when a viewer opens.
const ViewerPage = lazy(() => import('./pages/viewer-page.js').then((m) => ({ default: m.ViewerPage })));

// The chart and the cardiology views load on first use, like the viewer.
const ChartPage = lazy(() => import('./chart/index.js').then((m) => ({ default: m.ChartPage })));
const CardiologyPage = lazy(() => import('./cardiology/index.js').then((m) => ({ default: m.CardiologyPage })));

const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('Cannot use Atrium services outside <App>');
  return services;
}

export function App({ config, runtime }: AppServices): ReactNode {
  const [services] = useState(() => ({ config, runtime }));
  const path = useLocationPath();
  const route = parseRoute(path);
  let page: ReactNode;
  switch (route.page) {
    case 'worklist':
      page = <WorklistPage />;
      break;
    case 'upload':
      page = <UploadPage />;
      break;
    case 'study':
      page = <StudyPage studyInstanceUid={route.studyInstanceUid} />;
      break;
    case 'viewer':
      page = (
        <Suspense fallback={<main className="page muted">Loading the viewer…</main>}>
          <ViewerPage studyInstanceUid={route.studyInstanceUid} seriesInstanceUid={route.seriesInstanceUid} />
        </Suspense>
      );
      break;
    case 'patients':
    case 'patient':
      page = (
        <Suspense fallback={<main className="page muted">Loading…</main>}>
          <ChartPage route={route} />
        </Suspense>
      );
      break;
    case 'cardiology':
      page = (
        <Suspense fallback={<main className="page muted">Loading…</main>}>
          <CardiologyPage route={route} />
        </Suspense>
      );
      break;
    default:
      page = (
        <main className="page">
          <h1>Page not found</h1>
          <p>
            <a href="/" onClick={onLinkClick}>Back to the worklist</a>
          </p>
        </main>
      );
  }
  return (
    <ServicesContext.Provider value={services}>
      <UploadProvider>
        <div className={`shell ${route.page === 'viewer' ? 'shell-viewer' : ''}`}>
          <header className="topbar">
            <a className="brand" href="/" onClick={onLinkClick}>
              Atrium
            </a>
            <nav aria-label="Main">
              <a href="/" onClick={onLinkClick} aria-current={route.page === 'worklist' ? 'page' : undefined}>
                Worklist
              </a>
              <a href="/upload" onClick={onLinkClick} aria-current={route.page === 'upload' ? 'page' : undefined}>
                Upload
              </a>
              <a href="/patients" onClick={onLinkClick} aria-current={route.page === 'patients' || route.page === 'patient' ? 'page' : undefined}>
                Patients
              </a>
              {config.ohifPath && <a href={config.ohifPath}>OHIF</a>}
            </nav>
          </header>
          {page}
        </div>
      </UploadProvider>
    </ServicesContext.Provider>
  );
}
