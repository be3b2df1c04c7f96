/**
 * One patient identity across DICOM and FHIR (architecture.md, identity): DICOM's PatientID + IssuerOfPatientID
 * (0010,0021) is FHIR's `Patient.identifier` value + system. The mapping is fixed and reversible, so a Patient made
 * by the HIS and a study from a modality meet on the same identifier.
 */
const LOCAL_ISSUER_SYSTEM = 'urn:atrium:issuer:local';
const ISSUER_PREFIX = 'urn:atrium:issuer:';

/**
 * The identifier system for an IssuerOfPatientID: a URI as it is, an OID as `urn:oid:`, any other name as
 * `urn:atrium:issuer:<name>`, and no issuer as `urn:atrium:issuer:local` (this archive's own ids).
 */
export function systemForIssuer(issuer: string): string {
  if (issuer === '') return LOCAL_ISSUER_SYSTEM;
  if (/^[0-2](\.(0|[1-9]\d*))+$/.test(issuer)) return `urn:oid:${issuer}`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(issuer)) return issuer;
  return `${ISSUER_PREFIX}${encodeURIComponent(issuer)}`;
}

/** The IssuerOfPatientID an identifier system stands for (the inverse of `systemForIssuer`). */
export function issuerForSystem(system: string): string {
  if (system === LOCAL_ISSUER_SYSTEM) return '';
  if (system.startsWith(ISSUER_PREFIX)) return decodeURIComponent(system.slice(ISSUER_PREFIX.length));
  if (/^urn:oid:[0-2](\.(0|[1-9]\d*))+$/.test(system)) return system.slice('urn:oid:'.length);
  return system;
}

/** A FHIR HumanName from a DICOM PN's alphabetic group `Family^Given^Middle^Prefix^Suffix` (PS3.5 §6.2.1). */
export function humanNameOf(alphabetic: string): { family?: string; given?: string[]; prefix?: string[]; suffix?: string[]; text: string } | undefined {
  const [family, given, middle, prefix, suffix] = alphabetic.split('^').map((p) => p.trim());
  const givens = [given, middle].filter((s): s is string => !!s);
  const text = [prefix, ...givens, family, suffix].filter((s) => !!s).join(' ');
  if (!text) return undefined;
  return {
    ...(family ? { family } : {}),
    ...(givens.length ? { given: givens } : {}),
    ...(prefix ? { prefix: [prefix] } : {}),
    ...(suffix ? { suffix: [suffix] } : {}),
    text,
  };
}

/** DICOM DA `YYYYMMDD` as a FHIR date, or undefined. */
export function fhirDateOf(da: string | null | undefined): string | undefined {
  if (!da || !/^\d{8}$/.test(da)) return undefined;
  return `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}`;
}

/** DICOM DA + TM as a FHIR dateTime (local time as recorded, without a zone: FHIR requires one with a time). */
export function fhirDateTimeOf(da: string | null | undefined, tm: string | null | undefined): string | undefined {
  const date = fhirDateOf(da);
  if (!date) return undefined;
  // FHIR dateTime needs a zone once it has a time; DICOM times have none (unless TimezoneOffsetFromUTC), so the
  // date alone is the honest value when no time is known, and UTC is assumed otherwise (docs/fhir.md).
  if (!tm || !/^\d{6}/.test(tm)) return date;
  return `${date}T${tm.slice(0, 2)}:${tm.slice(2, 4)}:${tm.slice(4, 6)}Z`;
}

/** DICOM Patient's Sex (0010,0040) as FHIR administrative gender. */
export function genderOf(sex: string | null | undefined): 'male' | 'female' | 'other' | undefined {
  if (sex === 'M') return 'male';
  if (sex === 'F') return 'female';
  if (sex === 'O') return 'other';
  return undefined;
}
