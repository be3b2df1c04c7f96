import { useEffect, useState, type ReactNode } from 'react';
import {
  dicomNumber,
  dicomString,
  fetchRemoteAes,
  fetchSeries,
  fetchStudy,
  ohifStudyUrl,
  sendStudy,
  studyZipUrl,
  thumbnailUrl,
  type DicomJson,
  type RemoteAe,
  type SendResult,
} from '../api.js';
import { useServices } from '../app.js';
import { useStudyEvents } from '../events.js';
import { countOf, formatDate, formatPersonName, formatTime } from '../format.js';
import { navigate, onLinkClick } from '../routing.js';
import { CARDIOLOGY_MODALITIES } from '../cardiology/routes.js';
import { StudyGlyph } from '../study-glyph.js';
import { hasImages, seriesViewUrl, studyViewUrl } from '../study-kind.js';

/** Tags read on this page (PS3.6). */
const T = {
  patientName: '00100010',
  patientId: '00100020',
  birthDate: '00100030',
  sex: '00100040',
  studyDate: '00080020',
  studyTime: '00080030',
  accession: '00080050',
  referring: '00080090',
  studyDescription: '00081030',
  studyId: '00200010',
  modalitiesInStudy: '00080061',
  seriesCount: '00201206',
  instanceCount: '00201208',
  modality: '00080060',
  seriesDescription: '0008103E',
  seriesNumber: '00200011',
  seriesUid: '0020000E',
  seriesInstances: '00201209',
  bodyPart: '00180015',
} as const;

export function StudyPage({ studyInstanceUid }: { studyInstanceUid: string }): ReactNode {
  const { config } = useServices();
  const [study, setStudy] = useState<DicomJson | null | undefined>();
  const [series, setSeries] = useState<DicomJson[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [nodes, setNodes] = useState<RemoteAe[]>([]);
  const [node, setNode] = useState('');
  const [sending, setSending] = useState(false);
  const [sendResult, setSendResult] = useState<SendResult | string | undefined>();
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    Promise.all([fetchStudy(studyInstanceUid, controller.signal), fetchSeries(studyInstanceUid, controller.signal)]).then(
      ([s, list]) => {
        setStudy(s ?? null);
        setSeries(list);
      },
      (e: unknown) => !controller.signal.aborted && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => controller.abort();
  }, [studyInstanceUid, version]);

  useEffect(() => {
    const controller = new AbortController();
    fetchRemoteAes(controller.signal).then(
      (list) => {
        setNodes(list);
        setNode((current) => current || list[0]?.aeTitle || '');
      },
      () => setNodes([]),
    );
    return () => controller.abort();
  }, []);

  const modalities = ((study?.[T.modalitiesInStudy]?.Value ?? []) as string[]).filter(Boolean);
  const viewUrl = studyViewUrl(studyInstanceUid, modalities);

  useStudyEvents((event) => {
    if (event.studyInstanceUid === studyInstanceUid) setVersion((v) => v + 1);
  });

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.target as HTMLElement).tagName === 'INPUT' || (event.target as HTMLElement).tagName === 'SELECT') return;
      if (event.key === 'Escape' || event.key === 'Backspace') navigate('/');
      else if (event.key === 'v') navigate(viewUrl);
      else if (event.key === 'o' && config.ohifPath) window.location.assign(ohifStudyUrl(config.ohifPath, studyInstanceUid));
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [studyInstanceUid, viewUrl, config.ohifPath]);

  if (error) return <main className="page"><p className="error" role="alert">{error}</p></main>;
  if (study === undefined) return <main className="page"><p className="muted">Loading…</p></main>;
  if (study === null)
    return (
      <main className="page">
        <h1>Study not found</h1>
        <p>
          No stored study has the UID {studyInstanceUid}. <a href="/" onClick={onLinkClick}>Back to the worklist</a>
        </p>
      </main>
    );

  const send = async () => {
    setSending(true);
    setSendResult(undefined);
    try {
      setSendResult(await sendStudy(studyInstanceUid, node));
    } catch (e) {
      setSendResult(e instanceof Error ? e.message : String(e));
    } finally {
      setSending(false);
    }
  };

  const details: [string, string][] = [
    ['Patient ID', dicomString(study, T.patientId)],
    ['Birth date', formatDate(dicomString(study, T.birthDate))],
    ['Sex', dicomString(study, T.sex)],
    ['Study date', `${formatDate(dicomString(study, T.studyDate))} ${formatTime(dicomString(study, T.studyTime))}`.trim()],
    ['Accession', dicomString(study, T.accession)],
    ['Study ID', dicomString(study, T.studyId)],
    ['Referring physician', formatPersonName(dicomString(study, T.referring))],
    ['Modalities', modalities.join(', ')],
    ['Series / images', `${dicomNumber(study, T.seriesCount) ?? series.length} / ${dicomNumber(study, T.instanceCount) ?? ''}`],
    ['Study UID', studyInstanceUid],
  ];

  return (
    <main className="page study-page" data-testid="study-page">
      <p>
        <a href="/" onClick={onLinkClick}>← Worklist</a>
      </p>
      <h1 data-testid="study-patient">{formatPersonName(dicomString(study, T.patientName)) || '(no name)'}</h1>
      <p className="subtitle" data-testid="study-description">{dicomString(study, T.studyDescription)}</p>
      <dl className="details">
        {details.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div className="actions">
        <a className="button primary" href={viewUrl} onClick={onLinkClick} data-testid="study-open-viewer">
          View in Atrium (v)
        </a>
        {modalities.some((m) => CARDIOLOGY_MODALITIES.includes(m)) && (
          <a className="button" href={`/cardio/${studyInstanceUid}`} onClick={onLinkClick} data-testid="study-open-cardiology">
            Cardiology reading
          </a>
        )}
        {config.ohifPath && (
          <a className="button" href={ohifStudyUrl(config.ohifPath, studyInstanceUid)} data-testid="study-open-ohif">
            Open in OHIF (o)
          </a>
        )}
        <a className="button" href={studyZipUrl(studyInstanceUid)} download data-testid="study-download">
          Download ZIP
        </a>
        <span className="send">
          <label>
            Send to
            <select value={node} onChange={(e) => setNode(e.target.value)} disabled={nodes.length === 0} data-testid="send-node">
              {nodes.length === 0 && <option value="">No DICOM node configured</option>}
              {nodes.map((n) => (
                <option key={n.aeTitle} value={n.aeTitle}>
                  {n.aeTitle} ({n.host}:{n.port})
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void send()} disabled={!node || sending} data-testid="send-button">
            {sending ? 'Sending…' : 'Send'}
          </button>
        </span>
      </div>
      {sendResult !== undefined && (
        <p className={typeof sendResult === 'string' || sendResult.failed > 0 ? 'error' : 'ok'} role="status" data-testid="send-result">
          {typeof sendResult === 'string'
            ? sendResult
            : `Sent to ${sendResult.aeTitle}: ${sendResult.completed} completed, ${sendResult.warning} with warnings, ${sendResult.failed} failed${sendResult.failures[0] ? ` (${sendResult.failures[0].reason})` : ''}`}
        </p>
      )}
      <h2>Series</h2>
      <ul className="series-grid">
        {series.map((s) => {
          const seriesUid = dicomString(s, T.seriesUid);
          const modality = dicomString(s, T.modality);
          const count = dicomNumber(s, T.seriesInstances);
          return (
            <li key={seriesUid} data-testid="series-card">
              <a href={seriesViewUrl(studyInstanceUid, seriesUid, modality)} onClick={onLinkClick}>
                {hasImages([modality]) ? (
                  <img src={thumbnailUrl(studyInstanceUid, seriesUid)} alt={`Series ${dicomString(s, T.seriesNumber)}`} width={128} height={128} loading="lazy" />
                ) : (
                  <StudyGlyph modalities={[modality]} size={128} />
                )}
                <span className="series-title">
                  {dicomString(s, T.seriesNumber)} · {modality} {dicomString(s, T.seriesDescription)}
                </span>
                <span className="muted" data-testid="series-instances">
                  {count === undefined ? '? instances' : countOf(count, hasImages([modality]) ? 'image' : 'instance')}
                </span>
              </a>
            </li>
          );
        })}
      </ul>
    </main>
  );
}
