/** Display forms of DICOM values (PS3.5 §6.2): people read `Doe, Jane` and `2024-03-01`, not `DOE^JANE`. */

export function formatPersonName(value: string | null | undefined): string {
  if (!value) return '';
  const alphabetic = value.split('=')[0] ?? '';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = alphabetic.split('^');
  const first = [prefix, given, middle].filter(Boolean).join(' ');
  const name = [family, first].filter(Boolean).join(', ');
  return suffix ? `${name} ${suffix}` : name;
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
