import { DicomParseError } from './errors.js';

/**
 * A synchronous, streaming raw DEFLATE decoder (RFC 1951) for the Deflated Explicit VR Little Endian transfer
 * syntax (PS3.5 §A.5). Node's zlib streams are asynchronous and its sync functions are one-shot, but the Part 10
 * reader's `write` is synchronous and must hold bounded memory, so inflation happens here, chunk by chunk.
 *
 * Inflated bytes are handed to `onData` as views of an internal window that is reused: the callback must copy
 * what it keeps. Memory is the 32 KiB window plus output block plus a few hundred bytes of carried input.
 */
export class RawInflater {
  private input: Uint8Array = new Uint8Array(0);
  private inPos = 0;
  private bitBuf = 0;
  private bitCnt = 0;
  private state: State = State.BlockHeader;
  private lastBlock = false;
  private storedRemaining = 0;
  private lit: HuffmanTable | undefined;
  private dist: HuffmanTable | undefined;
  private fixed: { lit: HuffmanTable; dist: HuffmanTable } | undefined;
  private readonly out = new Uint8Array(WINDOW * 3);
  private outPos = 0;
  private flushed = 0;
  /** Inflated bytes so far. */
  totalOut = 0;

  constructor(private readonly onData: (bytes: Uint8Array) => void) {}

  get finished(): boolean {
    return this.state === State.Done;
  }

  write(chunk: Uint8Array): void {
    if (this.state === State.Done || chunk.length === 0) return;
    const rest = this.input.length - this.inPos;
    if (rest > 0) {
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.input.subarray(this.inPos));
      joined.set(chunk, rest);
      this.input = joined;
    } else {
      this.input = chunk;
    }
    this.inPos = 0;
    this.run(false);
    this.flush();
    // Keep only the unread tail, copied, so the caller's chunk is not retained.
    this.input = this.inPos < this.input.length ? this.input.slice(this.inPos) : new Uint8Array(0);
    this.inPos = 0;
  }

  /** Finishes the stream; throws `InflateError` when the deflate data is incomplete or corrupt. */
  end(): void {
    if (this.state !== State.Done) {
      const realEnd = this.input.length - this.inPos;
      // Zero padding lets the final symbols be peeked; reading into it means the stream was cut short.
      const padded = new Uint8Array(realEnd + 8);
      padded.set(this.input.subarray(this.inPos));
      this.input = padded;
      this.inPos = 0;
      let failure: unknown;
      try {
        this.run(true);
      } catch (err) {
        failure = err;
      }
      const consumed = this.inPos - (this.bitCnt >> 3);
      // Decoding that reached into the padding was decoding a stream cut short, whatever error it met there.
      if (consumed > realEnd || (failure === undefined && (this.state as State) !== State.Done)) {
        throw new InflateError('the deflate stream ends before its final block');
      }
      if (failure !== undefined) throw failure;
      this.flush();
    }
  }

  private need(n: number): void {
    while (this.bitCnt < n) {
      if (this.inPos >= this.input.length) throw new InflateError('the deflate stream ends before its final block');
      this.bitBuf |= this.input[this.inPos++]! << this.bitCnt;
      this.bitCnt += 8;
    }
  }

  private bits(n: number): number {
    this.need(n);
    const v = this.bitBuf & ((1 << n) - 1);
    this.bitBuf >>>= n;
    this.bitCnt -= n;
    return v;
  }

  private available(): number {
    return (this.input.length - this.inPos) * 8 + this.bitCnt;
  }

  private run(final: boolean): void {
    for (;;) {
      switch (this.state) {
        case State.Done:
          return;
        case State.BlockHeader: {
          if (!final && this.available() < 3) return;
          this.lastBlock = this.bits(1) === 1;
          const type = this.bits(2);
          if (type === 0) this.state = State.StoredHeader;
          else if (type === 1) {
            this.fixed ??= fixedTables();
            this.lit = this.fixed.lit;
            this.dist = this.fixed.dist;
            this.state = State.Codes;
          } else if (type === 2) this.state = State.DynamicHeader;
          else throw new InflateError('a block has the reserved type 3');
          break;
        }
        case State.StoredHeader: {
          if (!final && this.available() < 32 + 7) return;
          this.bitBuf >>>= this.bitCnt & 7;
          this.bitCnt -= this.bitCnt & 7;
          const len = this.bits(16);
          const nlen = this.bits(16);
          if ((len ^ 0xffff) !== nlen) throw new InflateError('a stored block length does not match its complement');
          this.storedRemaining = len;
          this.state = State.Stored;
          break;
        }
        case State.Stored: {
          // The bit buffer is byte-aligned here and holds at most whole bytes read ahead.
          while (this.storedRemaining > 0 && this.bitCnt >= 8) {
            this.put(this.bits(8));
            this.storedRemaining--;
          }
          while (this.storedRemaining > 0) {
            const n = Math.min(this.storedRemaining, this.input.length - this.inPos, this.out.length - this.outPos);
            if (n === 0) {
              if (this.input.length - this.inPos === 0) {
                if (final) throw new InflateError('the deflate stream ends inside a stored block');
                return;
              }
              this.slide();
              continue;
            }
            this.out.set(this.input.subarray(this.inPos, this.inPos + n), this.outPos);
            this.outPos += n;
            this.inPos += n;
            this.storedRemaining -= n;
          }
          this.state = this.lastBlock ? State.Done : State.BlockHeader;
          break;
        }
        case State.DynamicHeader: {
          // A dynamic header is at most about 2,300 bits: wait until it is all here rather than resume inside it.
          if (!final && this.available() < 2400) return;
          this.readDynamicTables();
          this.state = State.Codes;
          break;
        }
        case State.Codes: {
          if (!this.codes(final)) return;
          this.state = this.lastBlock ? State.Done : State.BlockHeader;
          break;
        }
      }
    }
  }

  /**
   * Decodes symbols until the end of the block (true) or until the input may not hold a whole symbol (false).
   * The hot loop of inflation: bit state lives in locals and is written back on every exit.
   */
  private codes(final: boolean): boolean {
    const litTable = this.lit!.table;
    const litBits = this.lit!.maxBits;
    const litMask = (1 << litBits) - 1;
    const distTable = this.dist!.table;
    const distBits = this.dist!.maxBits;
    const distMask = (1 << distBits) - 1;
    const out = this.out;
    const input = this.input;
    const inLen = input.length;
    // Longest symbol: 15-bit code + 5 extra bits + 15-bit distance code + 13 extra bits = 48 bits, 6 bytes.
    const safeEnd = final ? inLen : inLen - 6;
    let inPos = this.inPos;
    let bitBuf = this.bitBuf;
    let bitCnt = this.bitCnt;
    let outPos = this.outPos;
    const save = (): void => {
      this.inPos = inPos;
      this.bitBuf = bitBuf;
      this.bitCnt = bitCnt;
      this.outPos = outPos;
    };
    const fail = (message: string): never => {
      save();
      throw new InflateError(message);
    };
    for (;;) {
      if (inPos > safeEnd) {
        save();
        return false;
      }
      if (outPos + 258 > out.length) {
        this.outPos = outPos;
        this.slide();
        outPos = this.outPos;
      }
      while (bitCnt < 24 && inPos < inLen) {
        bitBuf |= input[inPos++]! << bitCnt;
        bitCnt += 8;
      }
      let entry = litTable[bitBuf & litMask]!;
      let len = entry & 15;
      if (len === 0 || len > bitCnt) fail('a literal/length code is invalid or cut short');
      bitBuf >>>= len;
      bitCnt -= len;
      const sym = entry >>> 4;
      if (sym < 256) {
        out[outPos++] = sym;
        continue;
      }
      if (sym === 256) {
        save();
        return true;
      }
      const li = sym - 257;
      if (li >= 29) fail(`a length code ${sym} is invalid`);
      let extra = LENGTH_EXTRA[li]!;
      const length = LENGTH_BASE[li]! + (bitBuf & ((1 << extra) - 1));
      bitBuf >>>= extra;
      bitCnt -= extra;
      while (bitCnt < 24 && inPos < inLen) {
        bitBuf |= input[inPos++]! << bitCnt;
        bitCnt += 8;
      }
      entry = distTable[bitBuf & distMask]!;
      len = entry & 15;
      if (len === 0 || len > bitCnt) fail('a distance code is invalid or cut short');
      bitBuf >>>= len;
      bitCnt -= len;
      const ds = entry >>> 4;
      if (ds >= 30) fail(`a distance code ${ds} is invalid`);
      extra = DIST_EXTRA[ds]!;
      while (bitCnt < extra && inPos < inLen) {
        bitBuf |= input[inPos++]! << bitCnt;
        bitCnt += 8;
      }
      if (extra > bitCnt) fail('a distance is cut short');
      const d = DIST_BASE[ds]! + (bitBuf & ((1 << extra) - 1));
      bitBuf >>>= extra;
      bitCnt -= extra;
      if (d > outPos) fail('a distance points before the start of the stream');
      let from = outPos - d;
      if (d >= length) {
        out.copyWithin(outPos, from, from + length);
        outPos += length;
      } else {
        for (let k = 0; k < length; k++) out[outPos++] = out[from++]!;
      }
    }
  }

  private decode(t: HuffmanTable): number {
    this.need(t.maxBits);
    const entry = t.table[this.bitBuf & ((1 << t.maxBits) - 1)]!;
    const len = entry & 15;
    if (len === 0) throw new InflateError('a Huffman code is not in its table');
    this.bitBuf >>>= len;
    this.bitCnt -= len;
    return entry >>> 4;
  }

  private readDynamicTables(): void {
    const hlit = this.bits(5) + 257;
    const hdist = this.bits(5) + 1;
    const hclen = this.bits(4) + 4;
    const clLens = new Uint8Array(19);
    for (let i = 0; i < hclen; i++) clLens[CL_ORDER[i]!] = this.bits(3);
    const cl = buildTable(clLens);
    const lens = new Uint8Array(hlit + hdist);
    for (let i = 0; i < hlit + hdist; ) {
      const sym = this.decode(cl);
      if (sym < 16) lens[i++] = sym;
      else {
        let repeat: number;
        let value = 0;
        if (sym === 16) {
          if (i === 0) throw new InflateError('a code length repeat has no previous length');
          value = lens[i - 1]!;
          repeat = 3 + this.bits(2);
        } else if (sym === 17) repeat = 3 + this.bits(3);
        else repeat = 11 + this.bits(7);
        if (i + repeat > lens.length) throw new InflateError('code lengths overrun the table');
        lens.fill(value, i, i + repeat);
        i += repeat;
      }
    }
    this.lit = buildTable(lens.subarray(0, hlit));
    this.dist = buildTable(lens.subarray(hlit));
  }

  private put(byte: number): void {
    if (this.outPos >= this.out.length) this.slide();
    this.out[this.outPos++] = byte;
  }

  private flush(): void {
    if (this.outPos > this.flushed) {
      const view = this.out.subarray(this.flushed, this.outPos);
      this.totalOut += view.length;
      this.flushed = this.outPos;
      this.onData(view);
    }
  }

  /** Emits pending output and keeps the last 32 KiB as the window for back-references. */
  private slide(): void {
    this.flush();
    if (this.outPos > WINDOW) {
      this.out.copyWithin(0, this.outPos - WINDOW, this.outPos);
      this.outPos = WINDOW;
      this.flushed = WINDOW;
    }
  }
}

/** Corrupt or incomplete deflate data; readers turn it into a coded `DicomParseError` (`asParseError`). */
export class InflateError extends Error {
  constructor(message: string) {
    super(`Cannot inflate data set: ${message}`);
    this.name = 'InflateError';
  }
}

/** A deflate failure as the data set error it is (truncated or corrupt at `offset`); other errors unchanged. */
export function asParseError(err: unknown, offset: number): unknown {
  if (err instanceof InflateError) {
    return new DicomParseError(err.message, { offset, cause: err }, 'ATRIUM_ERR_DICOM_TRUNCATED');
  }
  return err;
}

const WINDOW = 32768;

const enum State {
  BlockHeader,
  StoredHeader,
  Stored,
  DynamicHeader,
  Codes,
  Done,
}

interface HuffmanTable {
  /** Indexed by the next `maxBits` input bits (LSB first); entry = symbol << 4 | code length, 0 when invalid. */
  readonly table: Uint32Array;
  readonly maxBits: number;
}

const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/** Builds a single-level lookup table from canonical code lengths (RFC 1951 §3.2.2). */
function buildTable(lengths: Uint8Array): HuffmanTable {
  let maxBits = 0;
  const count = new Uint16Array(16);
  for (const l of lengths) {
    count[l]!++;
    if (l > maxBits) maxBits = l;
  }
  if (maxBits === 0) maxBits = 1;
  count[0] = 0;
  const next = new Uint16Array(16);
  let code = 0;
  for (let bits = 1; bits <= 15; bits++) {
    code = (code + count[bits - 1]!) << 1;
    next[bits] = code;
  }
  const size = 1 << maxBits;
  const table = new Uint32Array(size);
  for (let sym = 0; sym < lengths.length; sym++) {
    const len = lengths[sym]!;
    if (len === 0) continue;
    const c = next[len]!++;
    let rev = 0;
    for (let b = 0; b < len; b++) rev |= ((c >> b) & 1) << (len - 1 - b);
    if (rev >= size) throw new InflateError('a Huffman table is over-subscribed');
    for (let idx = rev; idx < size; idx += 1 << len) table[idx] = (sym << 4) | len;
  }
  return { table, maxBits };
}

function fixedTables(): { lit: HuffmanTable; dist: HuffmanTable } {
  const lit = new Uint8Array(288);
  lit.fill(8, 0, 144);
  lit.fill(9, 144, 256);
  lit.fill(7, 256, 280);
  lit.fill(8, 280, 288);
  return { lit: buildTable(lit), dist: buildTable(new Uint8Array(30).fill(5)) };
}
