// Types for the untyped `dicom-character-set` package (only the function Atrium calls).
declare module 'dicom-character-set' {
  export function convertBytes(specificCharacterSet: string | undefined, bytes: Uint8Array, options?: { vr?: string }): string;
}
