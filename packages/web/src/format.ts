/** Display forms of DICOM values (PS3.5 §6.2): people read `Doe, Jane` and `2024-03-01`, not `DOE^JANE`. */

/** The parts of a person's name, as both DICOM PN (PS3.5 §6.2.1) and FHIR HumanName carry them. */
export interface NameParts {
  family?: string;
  given?: readonly string[];
  prefix?: readonly string[];
  suffix?: readonly string[];
}

/**
 * `Family, Prefix Given Middle Suffix`: the one display form of a person's name in the worklist, the study page
 * and the chart. Letters are shown as stored (`Demo^Ct` is `Demo, Ct`, `DOE^JANE` is `DOE, JANE`): changing the
 * case would show the same patient differently depending on where the name was read.
 */
export function formatNameParts(parts: NameParts): string {
  const first = [...(parts.prefix ?? []), ...(parts.given ?? [])].filter(Boolean).join(' ');
  const name = [parts.family ?? '', first].filter(Boolean).join(', ');
  const suffix = (parts.suffix ?? []).filter(Boolean).join(' ');
  return suffix ? `${name} ${suffix}` : name;
}

/** A DICOM PN value (its alphabetic group) in the display form of {@link formatNameParts}. */
export function formatPersonName(value: string | null | undefined): string {
  if (!value) return '';
  const alphabetic = value.split('=')[0] ?? '';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = alphabetic.split('^');
  return formatNameParts({ family, given: [given, middle], prefix: [prefix], suffix: [suffix] });
}

/** `1 image`, `2 images`. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

export function formatDate(value: string | null | undefined): string {
  if (!value || !/^\d{8}$/.test(value)) return value ?? '';
  return `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6, 8)}`;
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '';
  const digits = value.replace(/:/g, '');
  return digits.length >= 4 ? `${digits.slice(0, 2)}:${digits.slice(2, 4)}` : digits;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}
