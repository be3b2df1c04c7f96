import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useStudyEvents } from '../events.js';
import { countOf } from '../format.js';
import { StudyGlyph } from '../study-glyph.js';
import { hasImages } from '../study-kind.js';
import { navigate, onLinkClick } from '../routing.js';
import {
  ageInYears,
  amendNoteBundle,
  buildAllergy,
  buildEncounter,
  buildMedication,
  buildNoteDraft,
  buildObservation,
  buildOrder,
  buildPatient,
  buildPractitioner,
  buildProblem,
  CHART_SECTIONS,
  chartSectionOf,
  conceptText,
  editNoteDraft,
  formatHumanName,
  imagingTimeline,
  LOCAL_MRN_SYSTEM,
  noteSigner,
  noteState,
  noteText,
  OBSERVATION_KINDS,
  observationTrends,
  patientSearches,
  practitionerReference,
  rememberedSigner,
  replacedNoteId,
  resolveProblem,
  stopMedication,
  signNote,
  trendGeometry,
  uniqueById,
  type ChartSection,
  type CodeableConcept,
  type DocumentReference,
  type FhirResource,
  type ImagingStudy,
  type Observation,
  type Patient,
  type Practitioner,
  type Trend,
} from './chart-model.js';
import { fhirCreate, fhirRead, fhirSearch, fhirTransaction, fhirUpdate } from './fhir-client.js';
import './chart.css';
import type { ChartRoute } from './routes.js';

export { parseChartRoute, type ChartRoute } from './routes.js';

export function ChartPage({ route }: { route: ChartRoute }): ReactNode {
  return route.page === 'patients' ? <PatientsPage /> : <PatientChart patientId={route.patientId} section={route.section} />;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const dateOnly = (value: unknown) => (typeof value === 'string' ? value.slice(0, 10) : '');
const todayIso = () => new Date().toISOString().slice(0, 10);
const mrnOf = (p: Patient) => p.identifier?.find((i) => i.system === LOCAL_MRN_SYSTEM)?.value ?? p.identifier?.[0]?.value ?? '';
const chartUrl = (id: string, section?: ChartSection) => `/patients/${encodeURIComponent(id)}${section && section !== 'summary' ? `/${section}` : ''}`;

// ---------------------------------------------------------------- patient search and registration

function PatientsPage(): ReactNode {
  const [query, setQuery] = useState('');
  const [patients, setPatients] = useState<Patient[] | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      Promise.all(patientSearches(query).map((params) => fhirSearch<Patient>('Patient', params, controller.signal))).then(
        (lists) => {
          setPatients(uniqueById(lists));
          setError(undefined);
        },
        (e: unknown) => !controller.signal.aborted && setError(messageOf(e)),
      );
    }, 200);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [query]);

  return (
    <main className="page chart">
      <h1>Patients</h1>
      <div className="chart-columns">
        <section aria-label="Find a patient">
          <input
            type="search"
            placeholder="Name or MRN"
            aria-label="Find a patient by name or MRN"
            data-testid="patient-search"
            value={query}
            autoFocus
            onChange={(e) => setQuery(e.target.value)}
          />
          {error && <p className="error">{error}</p>}
          {patients && patients.length === 0 && <p className="muted">No patient matches.</p>}
          {patients && patients.length > 0 && (
            <table className="chart-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>MRN</th>
                  <th>Birth date</th>
                  <th>Sex</th>
                </tr>
              </thead>
              <tbody>
                {patients.map((p) => (
                  <tr key={p.id} data-testid="patient-row">
                    <td>
                      <a href={chartUrl(p.id ?? '')} onClick={onLinkClick}>
                        {formatHumanName(p.name)}
                      </a>
                    </td>
                    <td>{mrnOf(p)}</td>
                    <td>{p.birthDate ?? ''}</td>
                    <td>{p.gender ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
        <RegisterPatient />
      </div>
    </main>
  );
}

function RegisterPatient(): ReactNode {
  const [form, setForm] = useState({ family: '', given: '', birthDate: '', gender: '', mrn: '' });
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const field = (name: keyof typeof form) => ({
    name,
    value: form[name],
    onChange: (e: { target: { value: string } }) => setForm((f) => ({ ...f, [name]: e.target.value })),
  });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const created = await fhirCreate(buildPatient(form));
      navigate(chartUrl(created.id ?? ''));
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <form className="chart-form" aria-label="Register a patient" data-testid="register-patient" onSubmit={submit}>
      <h2>Register a patient</h2>
      <label>
        Family name <input {...field('family')} required />
      </label>
      <label>
        Given names <input {...field('given')} />
      </label>
      <label>
        Birth date <input type="date" {...field('birthDate')} />
      </label>
      <label>
        Sex
        <select {...field('gender')}>
          <option value="">—</option>
          <option value="female">female</option>
          <option value="male">male</option>
          <option value="other">other</option>
          <option value="unknown">unknown</option>
        </select>
      </label>
      <label>
        MRN <input {...field('mrn')} />
      </label>
      <button className="button primary" type="submit" disabled={busy}>
        Register
      </button>
      {error && <p className="error">{error}</p>}
    </form>
  );
}

// ---------------------------------------------------------------- the chart

interface ChartData {
  patient: Patient;
  allergies: FhirResource[];
  problems: FhirResource[];
  medications: FhirResource[];
  encounters: FhirResource[];
  notes: DocumentReference[];
  orders: FhirResource[];
  observations: Observation[];
  reports: FhirResource[];
  studies: ImagingStudy[];
  /** Who may sign notes: the "Signing as" choices. */
  practitioners: Practitioner[];
}

async function loadChart(patientId: string, signal: AbortSignal): Promise<ChartData> {
  const byPatient = { patient: patientId, _count: '500' };
  const [patient, allergies, problems, medications, encounters, notes, orders, observations, reports, studies, practitioners] = await Promise.all([
    fhirRead<Patient>('Patient', patientId, signal),
    fhirSearch('AllergyIntolerance', byPatient, signal),
    fhirSearch('Condition', byPatient, signal),
    fhirSearch('MedicationRequest', byPatient, signal),
    fhirSearch('Encounter', byPatient, signal),
    fhirSearch<DocumentReference>('DocumentReference', byPatient, signal),
    fhirSearch('ServiceRequest', byPatient, signal),
    fhirSearch<Observation>('Observation', byPatient, signal),
    fhirSearch('DiagnosticReport', byPatient, signal),
    fhirSearch<ImagingStudy>('ImagingStudy', byPatient, signal),
    fhirSearch<Practitioner>('Practitioner', { active: 'true', _sort: 'family', _count: '500' }, signal),
  ]);
  return { patient, allergies, problems, medications, encounters, notes, orders, observations, reports, studies, practitioners };
}

/** Runs a write, then reloads the chart; shows the FHIR API's reason when it is refused. */
type Write = (action: () => Promise<unknown>) => Promise<boolean>;

function PatientChart({ patientId, section }: { patientId: string; section: string | undefined }): ReactNode {
  const [data, setData] = useState<ChartData | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [writeError, setWriteError] = useState<string | undefined>();
  const [version, setVersion] = useState(0);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  const current = chartSectionOf(section);

  useEffect(() => {
    const controller = new AbortController();
    loadChart(patientId, controller.signal).then(
      (d) => {
        setData(d);
        setError(undefined);
      },
      (e: unknown) => !controller.signal.aborted && setError(messageOf(e)),
    );
    return () => controller.abort();
  }, [patientId, version]);

  // ImagingStudy follows the archive's change feed once it has been quiet for 2 s (polled each second): ask again
  // after that. A new event replaces the pending asks, so a study arriving image by image keeps two timers only.
  const timers = useRef<ReturnType<typeof setTimeout>[]>([]);
  useStudyEvents(() => {
    reload();
    timers.current.forEach(clearTimeout);
    timers.current = [setTimeout(reload, 3500), setTimeout(reload, 7000)];
  });
  useEffect(() => () => timers.current.forEach(clearTimeout), []);

  const write: Write = useCallback(
    async (action) => {
      try {
        await action();
        setWriteError(undefined);
        reload();
        return true;
      } catch (e) {
        setWriteError(messageOf(e));
        return false;
      }
    },
    [reload],
  );

  if (error) return <main className="page chart"><p className="error">{error}</p></main>;
  if (!data) return <main className="page chart muted">Loading the chart…</main>;
  const { patient } = data;
  const age = ageInYears(patient.birthDate, new Date());
  return (
    <main className="page chart" data-testid="patient-chart">
      <header className="chart-header">
        <h1 data-testid="patient-name">{formatHumanName(patient.name)}</h1>
        <span>{[patient.gender, patient.birthDate && `born ${patient.birthDate}`, age !== undefined && `${age} y`].filter(Boolean).join(' · ')}</span>
        {mrnOf(patient) && <span>MRN {mrnOf(patient)}</span>}
        <a href="/patients" onClick={onLinkClick} className="muted">
          All patients
        </a>
      </header>
      <AllergyBanner patientId={patientId} allergies={data.allergies} write={write} />
      <nav className="chart-tabs" aria-label="Chart sections">
        {CHART_SECTIONS.map(([id, label]) => (
          <a key={id} href={chartUrl(patientId, id)} onClick={onLinkClick} aria-current={current === id ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {writeError && <p className="error" data-testid="chart-error">{writeError}</p>}
      {current === undefined && <p className="error">No section '{section}' in the chart.</p>}
      {current === 'summary' && <Summary data={data} />}
      {current === 'problems' && <Problems patientId={patientId} problems={data.problems} write={write} />}
      {current === 'medications' && <Medications patientId={patientId} medications={data.medications} write={write} />}
      {current === 'encounters' && <Encounters patientId={patientId} encounters={data.encounters} write={write} />}
      {current === 'notes' && <Notes patientId={patientId} notes={data.notes} practitioners={data.practitioners} write={write} />}
      {current === 'orders' && <Orders patientId={patientId} orders={data.orders} write={write} />}
      {current === 'observations' && <Observations patientId={patientId} observations={data.observations} write={write} />}
      {current === 'reports' && <Reports reports={data.reports} />}
      {current === 'imaging' && <ImagingTimeline studies={data.studies} />}
    </main>
  );
}

const codeOf = (value: unknown) => (value as { coding?: { code?: string }[] } | undefined)?.coding?.[0]?.code ?? '';

function AllergyBanner({ patientId, allergies, write }: { patientId: string; allergies: FhirResource[]; write: Write }): ReactNode {
  const [substance, setSubstance] = useState('');
  const [criticality, setCriticality] = useState<'low' | 'high' | 'unable-to-assess'>('high');
  const active = allergies.filter((a) => codeOf(a.clinicalStatus) !== 'inactive' && codeOf(a.verificationStatus) !== 'entered-in-error');
  return (
    <section className={`allergy-banner ${active.length ? 'has-allergies' : ''}`} aria-label="Allergies" data-testid="allergy-banner">
      <strong>Allergies:</strong>{' '}
      {active.length === 0 ? (
        <span>none recorded</span>
      ) : (
        active.map((a) => (
          <span key={a.id} className="allergy" data-testid="allergy">
            {conceptText(a.code as CodeableConcept)}
            {a.criticality === 'high' ? ' (high risk)' : ''}
          </span>
        ))
      )}
      <form
        className="inline-form"
        aria-label="Record an allergy"
        onSubmit={async (e) => {
          e.preventDefault();
          if (await write(() => fhirCreate(buildAllergy(patientId, substance, criticality, new Date())))) setSubstance('');
        }}
      >
        <input aria-label="Allergy substance" placeholder="Substance" value={substance} onChange={(e) => setSubstance(e.target.value)} required />
        <select aria-label="Criticality" value={criticality} onChange={(e) => setCriticality(e.target.value as typeof criticality)}>
          <option value="high">high</option>
          <option value="low">low</option>
          <option value="unable-to-assess">unable to assess</option>
        </select>
        <button className="button" type="submit">
          Record allergy
        </button>
      </form>
    </section>
  );
}

function Summary({ data }: { data: ChartData }): ReactNode {
  const latest = observationTrends(data.observations);
  const signed = data.notes.filter((n) => noteState(n) === 'signed' || noteState(n) === 'amendment').sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  return (
    <div className="chart-summary">
      <section>
        <h2>Problems</h2>
        <SimpleList items={data.problems.filter((p) => codeOf(p.clinicalStatus) !== 'resolved')} text={(p) => conceptText(p.code as CodeableConcept)} empty="No problems recorded." testId="summary-problem" />
      </section>
      <section>
        <h2>Medications</h2>
        <SimpleList items={data.medications.filter((m) => m.status === 'active')} text={(m) => conceptText(m.medicationCodeableConcept as CodeableConcept)} empty="No active medications." />
      </section>
      <section>
        <h2>Latest observations</h2>
        {latest.length === 0 ? (
          <p className="muted">None.</p>
        ) : (
          <ul>
            {latest.map((t) => {
              const last = t.points.at(-1)!;
              return (
                <li key={t.key}>
                  {t.label}: {last.value} {t.unit} <span className="muted">({new Date(last.time).toISOString().slice(0, 10)})</span>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      <section>
        <h2>Last note</h2>
        {signed[0] ? <NoteView note={signed[0]} /> : <p className="muted">No signed note.</p>}
      </section>
      <section>
        <h2>Imaging</h2>
        <p>{data.studies.length} stud{data.studies.length === 1 ? 'y' : 'ies'}</p>
      </section>
    </div>
  );
}

function SimpleList({
  items,
  text,
  empty,
  testId,
  detail,
  action,
}: {
  items: FhirResource[];
  text: (r: FhirResource) => string;
  empty: string;
  testId?: string;
  detail?: (r: FhirResource) => string;
  action?: (r: FhirResource) => ReactNode;
}): ReactNode {
  if (items.length === 0) return <p className="muted">{empty}</p>;
  return (
    <ul className="chart-list">
      {items.map((r) => (
        <li key={r.id} data-testid={testId}>
          {text(r)}
          {detail && <span className="muted"> {detail(r)}</span>}
          {action?.(r)}
        </li>
      ))}
    </ul>
  );
}

function AddForm({ label, fields, onSubmit }: { label: string; fields: { name: string; label: string; type?: string; initial?: string; options?: readonly (readonly [string, string])[]; required?: boolean }[]; onSubmit: (values: Record<string, string>) => Promise<boolean> }): ReactNode {
  const initial = () => Object.fromEntries(fields.map((f) => [f.name, f.initial ?? f.options?.[0]?.[0] ?? '']));
  const [values, setValues] = useState<Record<string, string>>(initial);
  return (
    <form
      className="inline-form"
      aria-label={label}
      onSubmit={async (e) => {
        e.preventDefault();
        if (await onSubmit(values)) setValues(initial());
      }}
    >
      {fields.map((f) =>
        f.options ? (
          <select key={f.name} aria-label={f.label} value={values[f.name]} onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}>
            {f.options.map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        ) : (
          <input
            key={f.name}
            aria-label={f.label}
            placeholder={f.label}
            type={f.type ?? 'text'}
            step={f.type === 'number' ? 'any' : undefined}
            required={f.required}
            value={values[f.name]}
            onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
          />
        ),
      )}
      <button className="button" type="submit">
        {label}
      </button>
    </form>
  );
}

const byDateDesc = (field: (r: FhirResource) => unknown) => (a: FhirResource, b: FhirResource) => String(field(b) ?? '').localeCompare(String(field(a) ?? ''));

function Problems({ patientId, problems, write }: { patientId: string; problems: FhirResource[]; write: Write }): ReactNode {
  return (
    <section aria-label="Problems">
      <h2>Problems</h2>
      <SimpleList
        items={[...problems].sort(byDateDesc((p) => p.recordedDate))}
        text={(p) => conceptText(p.code as CodeableConcept)}
        detail={(p) => [codeOf(p.clinicalStatus), p.onsetDateTime && `since ${dateOnly(p.onsetDateTime)}`].filter(Boolean).join(', ')}
        empty="No problems recorded."
        testId="problem"
        action={(p) =>
          codeOf(p.clinicalStatus) === 'active' && (
            <button className="button small" type="button" onClick={() => void write(() => fhirUpdate(resolveProblem(p, new Date())))}>
              Resolve
            </button>
          )
        }
      />
      <AddForm
        label="Add problem"
        fields={[
          { name: 'problem', label: 'Problem', required: true },
          { name: 'onset', label: 'Onset', type: 'date' },
        ]}
        onSubmit={(v) => write(() => fhirCreate(buildProblem(patientId, v.problem ?? '', v.onset ?? '', new Date())))}
      />
    </section>
  );
}

function Medications({ patientId, medications, write }: { patientId: string; medications: FhirResource[]; write: Write }): ReactNode {
  return (
    <section aria-label="Medications">
      <h2>Medications</h2>
      <SimpleList
        items={[...medications].sort(byDateDesc((m) => m.authoredOn))}
        text={(m) => conceptText(m.medicationCodeableConcept as CodeableConcept)}
        detail={(m) => [(m.dosageInstruction as { text?: string }[] | undefined)?.[0]?.text, m.status, dateOnly(m.authoredOn)].filter(Boolean).join(' · ')}
        empty="No medications."
        testId="medication"
        action={(m) =>
          m.status === 'active' && (
            <button className="button small" type="button" onClick={() => void write(() => fhirUpdate(stopMedication(m)))}>
              Stop
            </button>
          )
        }
      />
      <AddForm
        label="Prescribe"
        fields={[
          { name: 'medication', label: 'Medication', required: true },
          { name: 'dosage', label: 'Dosage' },
        ]}
        onSubmit={(v) => write(() => fhirCreate(buildMedication(patientId, v.medication ?? '', v.dosage ?? '', new Date())))}
      />
    </section>
  );
}

function Encounters({ patientId, encounters, write }: { patientId: string; encounters: FhirResource[]; write: Write }): ReactNode {
  return (
    <section aria-label="Encounters">
      <h2>Encounters</h2>
      <SimpleList
        items={[...encounters].sort(byDateDesc((e) => (e.period as { start?: string } | undefined)?.start))}
        text={(e) => `${dateOnly((e.period as { start?: string } | undefined)?.start)} ${(e.class as { display?: string; code?: string } | undefined)?.display ?? ''}`}
        detail={(e) => [(e.reasonCode as CodeableConcept[] | undefined)?.map(conceptText).join(', '), e.status].filter(Boolean).join(' · ')}
        empty="No encounters."
        testId="encounter"
      />
      <AddForm
        label="Record visit"
        fields={[
          { name: 'start', label: 'Date', type: 'date', initial: todayIso() },
          { name: 'reason', label: 'Reason' },
        ]}
        onSubmit={(v) => write(() => fhirCreate(buildEncounter(patientId, v.reason ?? '', v.start || todayIso())))}
      />
    </section>
  );
}

function Orders({ patientId, orders, write }: { patientId: string; orders: FhirResource[]; write: Write }): ReactNode {
  return (
    <section aria-label="Orders">
      <h2>Orders</h2>
      <SimpleList
        items={[...orders].sort(byDateDesc((o) => o.authoredOn))}
        text={(o) => conceptText(o.code as CodeableConcept)}
        detail={(o) => [o.status, (o.identifier as { value?: string }[] | undefined)?.[0]?.value && `accession ${(o.identifier as { value?: string }[])[0]!.value}`, dateOnly(o.authoredOn)].filter(Boolean).join(' · ')}
        empty="No orders."
        testId="order"
      />
      <AddForm
        label="Place order"
        fields={[
          { name: 'what', label: 'Order', required: true },
          { name: 'accession', label: 'Accession number' },
        ]}
        onSubmit={(v) => write(() => fhirCreate(buildOrder(patientId, v.what ?? '', v.accession ?? '', new Date())))}
      />
    </section>
  );
}

function Reports({ reports }: { reports: FhirResource[] }): ReactNode {
  return (
    <section aria-label="Reports">
      <h2>Reports</h2>
      <SimpleList
        items={[...reports].sort(byDateDesc((r) => r.effectiveDateTime ?? r.issued))}
        text={(r) => `${dateOnly(r.effectiveDateTime ?? r.issued)} ${conceptText(r.code as CodeableConcept)}`}
        detail={(r) => [r.status, typeof r.conclusion === 'string' ? r.conclusion : ''].filter(Boolean).join(' · ')}
        empty="No reports."
        testId="report"
      />
    </section>
  );
}

// ---------------------------------------------------------------- notes

const STATE_LABEL = { draft: 'Draft', signed: 'Signed', amendment: 'Amendment, signed', superseded: 'Superseded', 'entered-in-error': 'Entered in error' } as const;

function NoteView({ note }: { note: DocumentReference }): ReactNode {
  return (
    <article className={`note note-${noteState(note)}`} data-testid="note" data-state={noteState(note)}>
      <header>
        <strong>{note.description ?? 'Note'}</strong> <span className="badge">{STATE_LABEL[noteState(note)]}</span>{' '}
        <span className="muted">{note.date ? new Date(note.date).toLocaleString() : ''}</span>
        {replacedNoteId(note) && <span className="muted"> · amends an earlier note</span>}
        {noteSigner(note) && <span className="muted" data-testid="note-signer"> · signed by {noteSigner(note)}</span>}
      </header>
      <pre className="note-text">{noteText(note)}</pre>
    </article>
  );
}

type Editing = { mode: 'new' } | { mode: 'edit' | 'amend'; note: DocumentReference };

/** Where the browser remembers who is signing (a Practitioner id), so the choice survives a reload. */
const SIGNER_KEY = 'atrium.chart.signer';

function rememberedSignerId(): string | null {
  try {
    return localStorage.getItem(SIGNER_KEY);
  } catch {
    return null;
  }
}

/**
 * "Signing as": the person using the chart, chosen among the Practitioner resources (Atrium's authorization hook
 * names no signed-in user yet), or added here. Signed notes and amendments carry it as `authenticator`.
 */
function SignerPicker({ practitioners, signer, onChoose, write }: { practitioners: Practitioner[]; signer: Practitioner | undefined; onChoose: (id: string) => void; write: Write }): ReactNode {
  const [adding, setAdding] = useState(false);
  const [family, setFamily] = useState('');
  const [given, setGiven] = useState('');
  return (
    <div className="actions signer" data-testid="signer">
      <label>
        Signing as{' '}
        <select aria-label="Signing as" value={signer?.id ?? ''} onChange={(e) => onChoose(e.target.value)}>
          <option value="">(choose a practitioner)</option>
          {practitioners.map((p) => (
            <option key={p.id} value={p.id}>
              {formatHumanName(p.name)}
            </option>
          ))}
        </select>
      </label>
      {!adding && (
        <button className="button" type="button" onClick={() => setAdding(true)}>
          Add practitioner
        </button>
      )}
      {adding && (
        <form
          aria-label="Add practitioner"
          onSubmit={(e) => {
            e.preventDefault();
            void write(async () => {
              const created = await fhirCreate(buildPractitioner(family, given));
              if (created.id) onChoose(created.id);
              setAdding(false);
              setFamily('');
              setGiven('');
            });
          }}
        >
          <input aria-label="Practitioner family name" placeholder="Family name" value={family} onChange={(e) => setFamily(e.target.value)} required />
          <input aria-label="Practitioner given names" placeholder="Given names" value={given} onChange={(e) => setGiven(e.target.value)} />
          <button className="button primary" type="submit">
            Add
          </button>
          <button className="button" type="button" onClick={() => setAdding(false)}>
            Cancel
          </button>
        </form>
      )}
      {!signer && <span className="muted">Choose who is signing to sign or amend notes.</span>}
    </div>
  );
}

function Notes({ patientId, notes, practitioners, write }: { patientId: string; notes: DocumentReference[]; practitioners: Practitioner[]; write: Write }): ReactNode {
  const [editing, setEditing] = useState<Editing | undefined>();
  const [showSuperseded, setShowSuperseded] = useState(false);
  const [signerId, setSignerId] = useState<string | null>(rememberedSignerId);
  const signer = rememberedSigner(practitioners, signerId);
  const signerReference = signer ? practitionerReference(signer) : undefined;
  const chooseSigner = (id: string) => {
    setSignerId(id || null);
    try {
      if (id) localStorage.setItem(SIGNER_KEY, id);
      else localStorage.removeItem(SIGNER_KEY);
    } catch {
      // Storage refused (private mode): the choice lasts as long as the page.
    }
  };
  const sorted = [...notes].sort((a, b) => (b.date ?? '').localeCompare(a.date ?? ''));
  const visible = sorted.filter((n) => showSuperseded || noteState(n) !== 'superseded');
  return (
    <section aria-label="Notes">
      <h2>Notes</h2>
      <SignerPicker practitioners={practitioners} signer={signer} onChoose={chooseSigner} write={write} />
      <div className="actions">
        <button className="button" type="button" onClick={() => setEditing({ mode: 'new' })}>
          New note
        </button>
        <label>
          <input type="checkbox" checked={showSuperseded} onChange={(e) => setShowSuperseded(e.target.checked)} /> Show superseded versions
        </label>
      </div>
      {editing && (
        <NoteEditor
          key={editing.mode === 'new' ? 'new' : `${editing.mode}-${editing.note.id}`}
          editing={editing}
          onCancel={() => setEditing(undefined)}
          onSave={async (title, body) => {
            const now = new Date();
            const ok = await write(async () => {
              if (editing.mode === 'new') await fhirCreate(buildNoteDraft(patientId, title, body, now));
              else if (editing.mode === 'edit') await fhirUpdate(editNoteDraft(editing.note, title, body, now));
              else await fhirTransaction(amendNoteBundle(editing.note, title, body, now, signerReference));
            });
            if (ok) setEditing(undefined);
          }}
        />
      )}
      {visible.length === 0 && <p className="muted">No notes.</p>}
      {visible.map((note) => {
        const state = noteState(note);
        return (
          <div key={note.id} className="note-row">
            <NoteView note={note} />
            <div className="actions">
              {state === 'draft' && (
                <>
                  <button className="button" type="button" onClick={() => setEditing({ mode: 'edit', note })}>
                    Edit
                  </button>
                  <button className="button primary" type="button" onClick={() => void write(() => fhirUpdate(signNote(note, new Date(), signerReference)))}>
                    Sign
                  </button>
                </>
              )}
              {(state === 'signed' || state === 'amendment') && (
                <button className="button" type="button" onClick={() => setEditing({ mode: 'amend', note })}>
                  Amend
                </button>
              )}
            </div>
          </div>
        );
      })}
    </section>
  );
}

function NoteEditor({ editing, onSave, onCancel }: { editing: Editing; onSave: (title: string, body: string) => Promise<void>; onCancel: () => void }): ReactNode {
  const [title, setTitle] = useState(editing.mode === 'new' ? '' : (editing.note.description ?? ''));
  const [body, setBody] = useState(editing.mode === 'new' ? '' : noteText(editing.note));
  const heading = editing.mode === 'new' ? 'New note' : editing.mode === 'edit' ? 'Edit draft' : 'Amend signed note';
  return (
    <form
      className="note-editor"
      aria-label={heading}
      onSubmit={(e) => {
        e.preventDefault();
        void onSave(title, body);
      }}
    >
      <h3>{heading}</h3>
      <input aria-label="Note title" placeholder="Title" value={title} onChange={(e) => setTitle(e.target.value)} />
      <textarea aria-label="Note text" rows={6} value={body} onChange={(e) => setBody(e.target.value)} required />
      <div className="actions">
        <button className="button primary" type="submit">
          {editing.mode === 'amend' ? 'Save amendment' : 'Save draft'}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------- observations

const TREND_WIDTH = 320;
const TREND_HEIGHT = 90;

function TrendChart({ trend }: { trend: Trend }): ReactNode {
  const g = trendGeometry(trend.points, TREND_WIDTH, TREND_HEIGHT);
  return (
    <figure className="trend" data-testid="trend" data-label={trend.label}>
      <figcaption>
        {trend.label} <span className="muted">({trend.unit}; {g.min}–{g.max})</span>
      </figcaption>
      <svg width={TREND_WIDTH} height={TREND_HEIGHT} viewBox={`0 0 ${TREND_WIDTH} ${TREND_HEIGHT}`} role="img" aria-label={`${trend.label} trend`}>
        <polyline points={g.polyline} fill="none" stroke="currentColor" strokeWidth={1.5} />
        {g.dots.map((d) => (
          <circle key={`${d.time}-${d.x}-${d.y}`} cx={d.x} cy={d.y} r={3} fill="currentColor">
            <title>{`${new Date(d.time).toISOString().slice(0, 16).replace('T', ' ')}: ${d.value} ${trend.unit}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}

function Observations({ patientId, observations, write }: { patientId: string; observations: Observation[]; write: Write }): ReactNode {
  const trends = observationTrends(observations);
  const rows = [...observations].sort((a, b) => (b.effectiveDateTime ?? '').localeCompare(a.effectiveDateTime ?? ''));
  return (
    <section aria-label="Observations">
      <h2>Observations</h2>
      <AddForm
        label="Record observation"
        fields={[
          { name: 'code', label: 'Observation', options: OBSERVATION_KINDS.map((k) => [k.code, `${k.display} (${k.unit})`] as const) },
          { name: 'value', label: 'Value', type: 'number', required: true },
          { name: 'date', label: 'Date', type: 'date', initial: todayIso() },
        ]}
        onSubmit={(v) => write(() => fhirCreate(buildObservation(patientId, v.code ?? '', Number(v.value), v.date ? `${v.date}T12:00:00Z` : new Date().toISOString())))}
      />
      <div className="trends">
        {trends.map((t) => (
          <TrendChart key={t.key} trend={t} />
        ))}
      </div>
      {rows.length === 0 ? (
        <p className="muted">No observations.</p>
      ) : (
        <table className="chart-table">
          <tbody>
            {rows.map((o) => (
              <tr key={o.id} data-testid="observation">
                <td>{dateOnly(o.effectiveDateTime ?? o.issued)}</td>
                <td>{conceptText(o.code)}</td>
                <td>{o.valueQuantity ? `${o.valueQuantity.value} ${o.valueQuantity.unit ?? ''}` : (o.valueString ?? '')}</td>
                <td className="muted">{o.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- imaging

function ImagingTimeline({ studies }: { studies: ImagingStudy[] }): ReactNode {
  const timeline = imagingTimeline(studies);
  return (
    <section aria-label="Imaging">
      <h2>Imaging</h2>
      {timeline.length === 0 && <p className="muted">No studies for this patient yet.</p>}
      <ol className="imaging-timeline">
        {timeline.map((s) => (
          <li key={s.studyInstanceUid} data-testid="timeline-study" data-study-uid={s.studyInstanceUid}>
            <a href={s.viewerUrl} onClick={onLinkClick} title="Open in the viewer">
              {s.thumbnailUrl ? (
                <img src={s.thumbnailUrl} alt={`Thumbnail of ${s.description || s.studyInstanceUid}`} width={96} height={96} loading="lazy" />
              ) : (
                <StudyGlyph modalities={s.modalities} size={96} />
              )}
            </a>
            <div>
              <strong>{s.started ? s.started.slice(0, 10) : 'undated'}</strong> {s.modalities.join(', ')}
              <div>{s.description}</div>
              <div className="muted">
                {countOf(s.numberOfSeries, 'series', 'series')}, {countOf(s.numberOfInstances, hasImages(s.modalities) ? 'image' : 'instance')} ·{' '}
                <a href={`/studies/${encodeURIComponent(s.studyInstanceUid)}`} onClick={onLinkClick}>
                  study page
                </a>
              </div>
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}
