import { parseTag, type DataDictionary, type DicomJsonDataset, type DicomJsonPersonName } from '@atrium/dicom';

const PN_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function personNameXml(pn: DicomJsonPersonName, number: number): string {
  let out = `<PersonName number="${number}">`;
  for (const group of ['Alphabetic', 'Ideographic', 'Phonetic'] as const) {
    const text = pn[group];
    if (text === undefined) continue;
    out += `<${group}>`;
    text.split('^').forEach((value, i) => {
      const name = PN_COMPONENTS[i];
      if (name && value !== '') out += `<${name}>${escapeXml(value)}</${name}>`;
    });
    out += `</${group}>`;
  }
  return `${out}</PersonName>`;
}

function datasetXml(dataset: DicomJsonDataset, dictionary: DataDictionary): string {
  let out = '';
  for (const [tag, attribute] of Object.entries(dataset)) {
    const parsed = parseTag(tag);
    const keyword = parsed === undefined ? undefined : dictionary.keywordOf(parsed);
    out += `<DicomAttribute tag="${tag}" vr="${attribute.vr}"${keyword ? ` keyword="${keyword}"` : ''}>`;
    if (attribute.BulkDataURI !== undefined) out += `<BulkData uri="${escapeXml(attribute.BulkDataURI)}"/>`;
    else if (attribute.InlineBinary !== undefined) out += `<InlineBinary>${attribute.InlineBinary}</InlineBinary>`;
    else {
      (attribute.Value ?? []).forEach((value, i) => {
        const number = i + 1;
        if (attribute.vr === 'SQ') out += `<Item number="${number}">${datasetXml((value ?? {}) as DicomJsonDataset, dictionary)}</Item>`;
        else if (attribute.vr === 'PN') out += personNameXml((value ?? {}) as DicomJsonPersonName, number);
        else if (value === null) out += `<Value number="${number}"/>`;
        else out += `<Value number="${number}">${escapeXml(String(value))}</Value>`;
      });
    }
    out += '</DicomAttribute>';
  }
  return out;
}

/** A data set in the Native DICOM Model (PS3.19 §A.1), the XML form of DICOMweb (`application/dicom+xml`). */
export function toNativeDicomModel(dataset: DicomJsonDataset, dictionary: DataDictionary): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">${datasetXml(dataset, dictionary)}</NativeDicomModel>\n`;
}
