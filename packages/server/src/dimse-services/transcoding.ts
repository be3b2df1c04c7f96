import type { Readable } from 'node:stream';
import type { StoredInstanceRef } from '../retrieve/index.js';

/**
 * What the DIMSE services need from the shared transcoder (the retrieve path's, also behind WADO-RS): the data set
 * of a stored instance converted to one of `targets`, streamed. Typed here as an interface so the listeners can
 * be given it at start-up; without one, an instance whose stored syntax a peer refuses is a failed sub-operation.
 */
export interface DimseTranscoder {
  transcode(
    ref: Pick<StoredInstanceRef, 'blobKey' | 'transferSyntaxUid' | 'sopClassUid' | 'sopInstanceUid' | 'datasetOffset' | 'size'>,
    targets: readonly string[],
    // A P-DATA stream carries no length: the size of a streamed conversion is not worked out in advance.
    options: { form: 'dataset'; measure: false },
  ): Promise<{ transferSyntaxUid: string; transcoded: boolean; stream: Readable }>;
}
