/**
 * What a study or series holds, judged from its modalities (PS3.3 C.7.3.1.1.1), so that the pages neither ask for
 * a thumbnail nor open the image viewer for content that has no pixels.
 */

/** Waveform modalities (PS3.3 C.7.3.1.1.1 and A.34): ECG, hemodynamic, electrophysiology, audio, respiratory. */
export const WAVEFORM_MODALITIES: readonly string[] = ['ECG', 'HD', 'EPS', 'AU', 'RESP'];

/** Modalities whose instances have no pixel data: waveforms, structured reports, key objects, presentation states. */
const NON_IMAGE_MODALITIES: readonly string[] = [...WAVEFORM_MODALITIES, 'SR', 'KO', 'PR', 'DOC', 'REG', 'FID', 'RWV'];

/**
 * Whether a study (or series) with these modalities has an image to show. An unknown modality counts as an image,
 * and so does an empty list: a thumbnail that fails is better than one never asked for.
 */
export function hasImages(modalities: readonly string[]): boolean {
  return modalities.length === 0 || modalities.some((m) => !NON_IMAGE_MODALITIES.includes(m));
}

/** Whether the study's readable content is waveforms only (a resting ECG, a hemodynamic recording). */
export function isWaveformStudy(modalities: readonly string[]): boolean {
  return !hasImages(modalities) && modalities.some((m) => WAVEFORM_MODALITIES.includes(m));
}

/**
 * The main "view" action of a study: the image viewer, or the cardiology waveform view when the study holds
 * waveforms and no images (the image viewer would have nothing to show).
 */
export function studyViewUrl(studyInstanceUid: string, modalities: readonly string[]): string {
  return isWaveformStudy(modalities) ? `/cardio/${studyInstanceUid}` : `/studies/${studyInstanceUid}/view`;
}

/** The view of one series: a waveform series opens in the cardiology view, at that series. */
export function seriesViewUrl(studyInstanceUid: string, seriesInstanceUid: string, modality: string): string {
  return WAVEFORM_MODALITIES.includes(modality)
    ? `/cardio/${studyInstanceUid}/series/${seriesInstanceUid}`
    : `/studies/${studyInstanceUid}/series/${seriesInstanceUid}`;
}
