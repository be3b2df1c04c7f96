/**
 * Transfer syntaxes (PS3.5 §8, §10 and Annex A; UIDs from PS3.6 Annex A).
 */
export interface TransferSyntax {
  readonly uid: string;
  readonly name: string;
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
  /** The data set after the file meta information is a raw deflate stream (PS3.5 §A.5). */
  readonly deflated: boolean;
  /** Pixel data is encapsulated in fragments (PS3.5 §A.4). */
  readonly encapsulated: boolean;
  readonly lossy: boolean;
  /** A video stream rather than frames; a frame is not separately addressable. */
  readonly video: boolean;
  readonly retired: boolean;
}

const ts = (
  uid: string,
  name: string,
  opts: Partial<Omit<TransferSyntax, 'uid' | 'name'>> = {},
): TransferSyntax => ({
  uid,
  name,
  explicitVr: opts.explicitVr ?? true,
  littleEndian: opts.littleEndian ?? true,
  deflated: opts.deflated ?? false,
  encapsulated: opts.encapsulated ?? true,
  lossy: opts.lossy ?? false,
  video: opts.video ?? false,
  retired: opts.retired ?? false,
});

export const ImplicitVrLittleEndian = '1.2.840.10008.1.2';
export const ExplicitVrLittleEndian = '1.2.840.10008.1.2.1';
export const EncapsulatedUncompressedExplicitVrLittleEndian = '1.2.840.10008.1.2.1.98';
export const DeflatedExplicitVrLittleEndian = '1.2.840.10008.1.2.1.99';
export const ExplicitVrBigEndian = '1.2.840.10008.1.2.2';
export const RleLossless = '1.2.840.10008.1.2.5';
export const JpegBaseline8Bit = '1.2.840.10008.1.2.4.50';

const video = { lossy: true, video: true };

const TABLE: readonly TransferSyntax[] = [
  ts(ImplicitVrLittleEndian, 'Implicit VR Little Endian', { explicitVr: false, encapsulated: false }),
  ts(ExplicitVrLittleEndian, 'Explicit VR Little Endian', { encapsulated: false }),
  ts(EncapsulatedUncompressedExplicitVrLittleEndian, 'Encapsulated Uncompressed Explicit VR Little Endian'),
  ts(DeflatedExplicitVrLittleEndian, 'Deflated Explicit VR Little Endian', { deflated: true, encapsulated: false }),
  ts(ExplicitVrBigEndian, 'Explicit VR Big Endian', { littleEndian: false, encapsulated: false, retired: true }),
  ts(JpegBaseline8Bit, 'JPEG Baseline (Process 1)', { lossy: true }),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', { lossy: true }),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)'),
  ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])'),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless Image Compression'),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless) Image Compression', { lossy: true }),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 Image Compression (Lossless Only)'),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000 Image Compression', { lossy: true }),
  ts('1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)'),
  ts('1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component Image Compression', { lossy: true }),
  ts('1.2.840.10008.1.2.4.94', 'JPIP Referenced', { encapsulated: false }),
  ts('1.2.840.10008.1.2.4.95', 'JPIP Referenced Deflate', { encapsulated: false, deflated: true }),
  ts('1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level', video),
  ts('1.2.840.10008.1.2.4.100.1', 'Fragmentable MPEG2 Main Profile / Main Level', video),
  ts('1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level', video),
  ts('1.2.840.10008.1.2.4.101.1', 'Fragmentable MPEG2 Main Profile / High Level', video),
  ts('1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1', video),
  ts('1.2.840.10008.1.2.4.102.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1', video),
  ts('1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', video),
  ts('1.2.840.10008.1.2.4.103.1', 'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', video),
  ts('1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', video),
  ts('1.2.840.10008.1.2.4.104.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', video),
  ts('1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', video),
  ts('1.2.840.10008.1.2.4.105.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', video),
  ts('1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', video),
  ts('1.2.840.10008.1.2.4.106.1', 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', video),
  ts('1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1', video),
  ts('1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1', video),
  ts('1.2.840.10008.1.2.4.110', 'JPEG XL Lossless'),
  ts('1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression'),
  ts('1.2.840.10008.1.2.4.112', 'JPEG XL', { lossy: true }),
  ts('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 Image Compression (Lossless Only)'),
  ts('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)'),
  ts('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000 Image Compression', { lossy: true }),
  ts('1.2.840.10008.1.2.4.204', 'JPIP HTJ2K Referenced', { encapsulated: false }),
  ts('1.2.840.10008.1.2.4.205', 'JPIP HTJ2K Referenced Deflate', { encapsulated: false, deflated: true }),
  ts(RleLossless, 'RLE Lossless'),
  ts('1.2.840.10008.1.2.6.1', 'RFC 2557 MIME encapsulation', { encapsulated: false, retired: true }),
  ts('1.2.840.10008.1.2.6.2', 'XML Encoding', { encapsulated: false, retired: true }),
  ts('1.2.840.10008.1.2.7.1', 'SMPTE ST 2110-20 Uncompressed Progressive Active Video', { encapsulated: false, video: true }),
  ts('1.2.840.10008.1.2.7.2', 'SMPTE ST 2110-20 Uncompressed Interlaced Active Video', { encapsulated: false, video: true }),
  ts('1.2.840.10008.1.2.7.3', 'SMPTE ST 2110-30 PCM Digital Audio', { encapsulated: false }),
];

const BY_UID: ReadonlyMap<string, TransferSyntax> = new Map(TABLE.map((t) => [t.uid, t]));

export const TRANSFER_SYNTAXES: readonly TransferSyntax[] = TABLE;

export function lookupTransferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid);
}

/**
 * Transfer syntaxes whose data sets this reader can walk: every one whose data set is encoded with the
 * standard element structure. The JPIP, MIME and XML syntaxes reference or wrap pixel data differently.
 */
export function isReadableTransferSyntax(uid: string): boolean {
  const t = BY_UID.get(uid);
  return t !== undefined && !/^1\.2\.840\.10008\.1\.2\.(6\.|4\.(94|95|204|205)$)/.test(uid);
}
