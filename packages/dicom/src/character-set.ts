import { TextDecoder } from 'node:util';
import { convertBytes } from 'dicom-character-set';
import type { Vr } from './vr.js';

/**
 * Text decoding for (0008,0005) Specific Character Set (PS3.5 §6.1, PS3.3 §C.12.1.1.2), including ISO 2022 code
 * extensions. Code extension state is handled by `dicom-character-set`; this module adds the fast path for plain
 * ASCII (nearly every value) and tolerant handling of the misspellings found in real files.
 */
export class SpecificCharacterSet {
  /** The defined terms after normalisation, joined by `\` as `dicom-character-set` expects. */
  readonly terms: string;
  /** Terms that were not recognised and were ignored; the reader turns them into warnings. */
  readonly unknownTerms: readonly string[];
  private readonly isDefault: boolean;
  /** Made for the first value that is not plain ASCII: a reader makes a set per object, and most need neither. */
  private utf8: TextDecoder | undefined;
  private latin1: TextDecoder | undefined;

  /**
   * @param onFallback told when bytes could not be decoded in the declared repertoire (an unknown escape
   *   sequence) and were decoded as if no character set were declared.
   */
  constructor(
    specificCharacterSet?: string,
    private readonly onFallback?: (message: string) => void,
  ) {
    const raw = (specificCharacterSet ?? '').split('\\').map((t) => normaliseTerm(t));
    const known: string[] = [];
    const unknown: string[] = [];
    raw.forEach((term, i) => {
      if (term === '' ? i === 0 : KNOWN_TERMS.has(term)) known.push(term);
      else if (term !== '') unknown.push(term);
    });
    // An unrecognised first term leaves the default repertoire in its place, so later ISO 2022 terms still apply.
    if (known.length === 0 || known[0]!.startsWith('ISO 2022') && raw[0] !== known[0]) known.unshift('');
    this.terms = known.join('\\');
    this.unknownTerms = unknown;
    this.isDefault = known.length === 1 && (known[0] === '' || known[0] === 'ISO_IR 6');
  }

  /**
   * Decodes the whole value of a text element. Delimiters (`\`, and `=` `^` for PN) are only recognised by the
   * decoder in single-byte code elements, so splitting the decoded string afterwards is the split on the raw bytes
   * that PS3.5 §6.1.2.5.3 asks for: escape sequences cannot hide a delimiter and state resets at each one.
   */
  decode(bytes: Uint8Array, vr: Vr): string {
    if (isPlainAscii(bytes)) return asciiString(bytes);
    if (!this.isDefault) {
      try {
        return convertBytes(this.terms, bytes, { vr });
      } catch (err) {
        this.onFallback?.(`Cannot decode ${vr} text in '${this.terms}': ${(err as Error).message}; read without character set`);
      }
    }
    // Without (0008,0005) the repertoire is ASCII; real files put UTF-8 or Latin-1 here. Prefer UTF-8 when the
    // bytes are valid UTF-8 (Latin-1 text rarely is), else Latin-1 as pydicom and DCMTK do.
    try {
      return (this.utf8 ??= new TextDecoder('utf-8', { fatal: true })).decode(bytes);
    } catch {
      return (this.latin1 ??= new TextDecoder('latin1')).decode(bytes);
    }
  }
}

/** True when the value holds only 7-bit bytes and no ESC, so it reads the same in every supported repertoire. */
function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b >= 0x80 || b === 0x1b) return false;
  }
  return true;
}

const ASCII_CHUNK = 4096;

/** Decodes 7-bit bytes; `String.fromCharCode` is several times faster than a TextDecoder on short values. */
export function asciiString(bytes: Uint8Array): string {
  if (bytes.length <= ASCII_CHUNK) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let out = '';
  for (let i = 0; i < bytes.length; i += ASCII_CHUNK) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + ASCII_CHUNK) as unknown as number[]);
  }
  return out;
}

const KNOWN_TERMS: ReadonlySet<string> = new Set([
  'ISO_IR 6', 'ISO_IR 100', 'ISO_IR 101', 'ISO_IR 109', 'ISO_IR 110', 'ISO_IR 144', 'ISO_IR 127', 'ISO_IR 126',
  'ISO_IR 138', 'ISO_IR 148', 'ISO_IR 13', 'ISO_IR 166', 'ISO_IR 192', 'GB18030', 'GBK',
  'ISO 2022 IR 6', 'ISO 2022 IR 100', 'ISO 2022 IR 101', 'ISO 2022 IR 109', 'ISO 2022 IR 110', 'ISO 2022 IR 144',
  'ISO 2022 IR 127', 'ISO 2022 IR 126', 'ISO 2022 IR 138', 'ISO 2022 IR 148', 'ISO 2022 IR 13', 'ISO 2022 IR 166',
  'ISO 2022 IR 87', 'ISO 2022 IR 159', 'ISO 2022 IR 149', 'ISO 2022 IR 58',
]);

/** Repairs the spellings seen in the wild (`ISO_IR_100`, `ISO IR 100`, `iso-ir 192`, `ISO2022 IR 87`). */
function normaliseTerm(term: string): string {
  const t = term.trim().toUpperCase();
  if (t === '' || KNOWN_TERMS.has(t)) return t;
  const m = /^ISO[\s_-]*(2022)?[\s_-]*IR[\s_-]*(\d+)$/.exec(t);
  if (m) {
    const fixed = m[1] ? `ISO 2022 IR ${m[2]}` : `ISO_IR ${m[2]}`;
    if (KNOWN_TERMS.has(fixed)) return fixed;
  }
  if (t === 'UTF-8' || t === 'UTF8' || t === 'ISO_IR 192') return 'ISO_IR 192';
  if (t === 'GB 18030') return 'GB18030';
  return t;
}
