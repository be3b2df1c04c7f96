import type { Vr } from '@atrium/dicom';

/**
 * The size of the numbers a value of this VR holds, which is what a byte order swaps (PS3.5 §7.3): 2 for OW, US,
 * SS and AT (two 16-bit halves), 4 for OL, OF, UL, SL, FL, 8 for OD, OV, FD, SV, UV; 1 (nothing to swap) for OB,
 * UN and text.
 */
export function byteSwapUnit(vr: Vr): 1 | 2 | 4 | 8 {
  switch (vr) {
    case 'OW':
    case 'US':
    case 'SS':
    case 'AT':
      return 2;
    case 'OL':
    case 'OF':
    case 'UL':
    case 'SL':
    case 'FL':
      return 4;
    case 'OD':
    case 'OV':
    case 'FD':
    case 'SV':
    case 'UV':
      return 8;
    default:
      return 1;
  }
}

/**
 * A value's bytes with each `unit`-byte number reversed: big endian to little endian and back. The stream may be
 * cut anywhere; a number split across chunks is held until its last byte arrives, so memory stays at one chunk.
 */
export async function* swapByteOrder(source: AsyncIterable<Uint8Array>, unit: number): AsyncGenerator<Buffer> {
  if (unit <= 1) {
    for await (const chunk of source) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return;
  }
  let carry = Buffer.alloc(0);
  for await (const chunk of source) {
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
    const whole = bytes.length - (bytes.length % unit);
    carry = Buffer.from(bytes.subarray(whole));
    if (whole === 0) continue;
    const out = bytes.subarray(0, whole);
    if (unit === 2) out.swap16();
    else if (unit === 4) out.swap32();
    else out.swap64();
    yield out;
  }
  // A value's length is a multiple of its number size (PS3.5 §6.2); a stray tail byte is sent as it is.
  if (carry.length > 0) yield carry;
}
