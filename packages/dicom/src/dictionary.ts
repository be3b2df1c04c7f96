import { DATA_ELEMENT_TABLE } from './dictionary.generated.js';
import { UID_TABLE } from './uid.generated.js';
import type { Tag } from './tag.js';
import { isPrivateCreator, isPrivateTag, isGroupLength, parseTag, tagToHex } from './tag.js';
import type { Vr } from './vr.js';
import { isVr } from './vr.js';

/** A registry entry of PS3.6 §6 (data elements). */
export interface DataElementEntry {
  /** `GGGGEEEE`, with `x` for digits that vary in repeating groups (for example `60xx3000`). */
  readonly tag: string;
  /** Every VR the standard allows; the first is used when nothing in the data set says otherwise. */
  readonly vrs: readonly Vr[];
  readonly vm: string;
  readonly name: string;
  readonly keyword: string;
  readonly retired: boolean;
}

/** A registry entry of PS3.6 Annex A (UIDs). */
export interface UidEntry {
  readonly uid: string;
  readonly name: string;
  /** `SOP Class`, `Transfer Syntax`, `Well-known SOP Instance`, ... as PS3.6 names the type. */
  readonly type: string;
  readonly keyword: string;
  readonly retired: boolean;
}

/**
 * The data dictionary, parsed once from the generated tables. Built in `main.ts` and passed in where needed;
 * `defaultDictionary()` memoises one immutable instance for library callers, which is safe because it never
 * changes after construction.
 */
export class DataDictionary {
  private readonly byTag = new Map<number, DataElementEntry>();
  /** The DICOM JSON key of every registered tag, made once: readers name each element by it, many times a second. */
  private readonly keys = new Map<number, string>();
  private readonly byKeyword = new Map<string, DataElementEntry>();
  /** Repeating-group entries with the mask of their fixed digits, tried in order when the exact tag is absent. */
  private readonly repeating: { mask: number; value: number; entry: DataElementEntry }[] = [];
  private readonly uids = new Map<string, UidEntry>();

  constructor(elementTable: string = DATA_ELEMENT_TABLE, uidTable: string = UID_TABLE) {
    for (const line of elementTable.split('\n')) {
      if (!line) continue;
      const [tag, vrText, vm, name, keyword, retired] = line.split('\t') as [string, string, string, string, string, string];
      const vrs = vrText.split('|').filter(isVr);
      const entry: DataElementEntry = { tag, vrs, vm, name, keyword, retired: retired === 'R' };
      if (keyword) this.byKeyword.set(keyword, entry);
      if (tag.includes('x')) {
        const mask = parseInt(tag.replace(/[0-9A-F]/g, 'F').replace(/x/g, '0'), 16) >>> 0;
        const value = parseInt(tag.replace(/x/g, '0'), 16) >>> 0;
        this.repeating.push({ mask, value, entry });
      } else {
        const number = parseInt(tag, 16) >>> 0;
        this.byTag.set(number, entry);
        const key = tagToHex(number);
        this.keys.set(number, key === tag ? tag : key);
      }
    }
    for (const line of uidTable.split('\n')) {
      if (!line) continue;
      const [uid, name, type, keyword, retired] = line.split('\t') as [string, string, string, string, string];
      this.uids.set(uid, { uid, name, type, keyword, retired: retired === 'R' });
    }
  }

  /** The registry entry of a tag, including repeating groups such as (60xx,3000); undefined for private tags. */
  lookup(tag: Tag): DataElementEntry | undefined {
    const exact = this.byTag.get(tag);
    if (exact) return exact;
    if (isPrivateTag(tag)) return undefined;
    for (const r of this.repeating) if (((tag & r.mask) >>> 0) === r.value) return r.entry;
    return undefined;
  }

  /**
   * `GGGGEEEE`, the DICOM JSON key of a tag (PS3.18 §F.2.1.1), as `tagToHex` spells it; for registered tags the
   * same string every time, so that a reader does not build and intern a new one for each element it names.
   */
  keyOf(tag: Tag): string {
    return this.keys.get(tag) ?? tagToHex(tag);
  }

  /**
   * The VR to use when the encoding does not carry one (Implicit VR, PS3.5 §7.1.3). Private creators are LO,
   * group lengths UL, and anything unknown is UN (PS3.5 §6.2.2).
   */
  vrOf(tag: Tag): Vr {
    const entry = this.lookup(tag);
    if (entry && entry.vrs.length > 0) return entry.vrs[0]!;
    if (isGroupLength(tag)) return 'UL';
    if (isPrivateCreator(tag)) return 'LO';
    return 'UN';
  }

  keywordOf(tag: Tag): string | undefined {
    return this.lookup(tag)?.keyword || undefined;
  }

  /** Tag of a keyword (`PatientName`) or of a hex spelling (`00100010`); undefined when neither. */
  tagOf(keywordOrHex: string): Tag | undefined {
    const entry = this.byKeyword.get(keywordOrHex);
    if (entry && !entry.tag.includes('x')) return parseInt(entry.tag, 16) >>> 0;
    return parseTag(keywordOrHex);
  }

  uid(uid: string): UidEntry | undefined {
    return this.uids.get(uid);
  }

  /** Every UID of a PS3.6 type, for example every `SOP Class`. */
  uidsOfType(type: string): UidEntry[] {
    return [...this.uids.values()].filter((u) => u.type === type);
  }

  describe(tag: Tag): string {
    return this.lookup(tag)?.name ?? (isPrivateTag(tag) ? 'Private Tag' : `Unknown ${tagToHex(tag)}`);
  }
}

let shared: DataDictionary | undefined;

/** One shared, immutable dictionary: parsing the tables takes a few milliseconds, so do it once. */
export function defaultDictionary(): DataDictionary {
  shared ??= new DataDictionary();
  return shared;
}
