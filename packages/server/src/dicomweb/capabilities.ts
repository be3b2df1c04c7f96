import type { FastifyInstance } from 'fastify';
import { lookupTransferSyntax } from '@atrium/dicom';
import { DECODABLE_TRANSFER_SYNTAXES, ENCODABLE_TRANSFER_SYNTAXES, RENDERED_MEDIA_TYPES } from '../retrieve/index.js';
import { DICOMWEB_PREFIX, originOf } from './context.js';
import { parseAccept } from './multipart/media-type.js';
import { PIXEL_MEDIA_TYPES } from './wado-rs/pixel-media-types.js';

/** The resources Atrium serves, for the capabilities document. */
const RESOURCES: readonly { path: string; methods: string[]; produces: string[]; service: string }[] = [
  { path: '/studies', methods: ['GET', 'POST'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'QIDO-RS / STOW-RS' },
  { path: '/series', methods: ['GET'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'QIDO-RS' },
  { path: '/instances', methods: ['GET'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'QIDO-RS' },
  { path: '/studies/{study}', methods: ['GET', 'POST'], produces: ['multipart/related; type="application/dicom"', 'application/zip'], service: 'WADO-RS / STOW-RS' },
  { path: '/studies/{study}/series', methods: ['GET'], produces: ['application/dicom+json'], service: 'QIDO-RS' },
  { path: '/studies/{study}/instances', methods: ['GET'], produces: ['application/dicom+json'], service: 'QIDO-RS' },
  { path: '/studies/{study}/series/{series}/instances', methods: ['GET'], produces: ['application/dicom+json'], service: 'QIDO-RS' },
  { path: '/studies/{study}/metadata', methods: ['GET'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}', methods: ['GET'], produces: ['multipart/related; type="application/dicom"', 'application/zip'], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}/metadata', methods: ['GET'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}/instances/{instance}', methods: ['GET'], produces: ['multipart/related; type="application/dicom"', 'application/dicom', 'application/zip'], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}/instances/{instance}/metadata', methods: ['GET'], produces: ['application/dicom+json', 'application/dicom+xml'], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}/instances/{instance}/frames/{frames}', methods: ['GET'], produces: ['multipart/related; type="application/octet-stream"', ...Object.keys(PIXEL_MEDIA_TYPES).map((t) => `multipart/related; type="${t}"`)], service: 'WADO-RS' },
  { path: '/studies/{study}/series/{series}/instances/{instance}/bulk/{path}', methods: ['GET'], produces: ['multipart/related; type="application/octet-stream"', 'application/octet-stream'], service: 'WADO-RS' },
  ...['', '/series/{series}', '/series/{series}/instances/{instance}', '/series/{series}/instances/{instance}/frames/{frames}'].flatMap((p) => [
    { path: `/studies/{study}${p}/rendered`, methods: ['GET'], produces: [...RENDERED_MEDIA_TYPES], service: 'WADO-RS' },
    { path: `/studies/{study}${p}/thumbnail`, methods: ['GET'], produces: [...RENDERED_MEDIA_TYPES], service: 'WADO-RS' },
  ]),
];

function wadl(base: string): string {
  const resources = RESOURCES.map(
    (r) =>
      `  <resource path="${r.path.slice(1)}">\n${r.methods
        .map((m) => `    <method name="${m}"><response>${r.produces.map((p) => `<representation mediaType="${p.replace(/"/g, '&quot;')}"/>`).join('')}</response></method>`)
        .join('\n')}\n  </resource>`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<application xmlns="http://wadl.dev.java.net/2009/02">\n <resources base="${base}/">\n${resources.join('\n')}\n </resources>\n</application>\n`;
}

/**
 * The capabilities of this origin server (PS3.18 §8.9 Retrieve Capabilities, WADL by default): `GET /dicom-web`
 * or `OPTIONS`-free discovery for clients, with a JSON form for people and scripts (`Accept: application/json`).
 */
export function registerCapabilities(app: FastifyInstance): void {
  app.get('/', (request, reply) => {
    const base = `${originOf(request)}${DICOMWEB_PREFIX}`;
    const wantsJson = parseAccept(request.headers.accept).some((r) => r.essence === 'application/json');
    if (!wantsJson) return reply.type('application/vnd.sun.wadl+xml').send(wadl(base));
    return reply.type('application/json').send({
      base,
      services: ['QIDO-RS', 'WADO-RS', 'STOW-RS', 'WADO-URI'],
      wadoUri: `${originOf(request)}/wado`,
      resources: RESOURCES,
      transferSyntaxes: {
        storedAsReceived: true,
        decodes: [...DECODABLE_TRANSFER_SYNTAXES].map((uid) => ({ uid, name: lookupTransferSyntax(uid)?.name })),
        encodes: [...ENCODABLE_TRANSFER_SYNTAXES].map((uid) => ({ uid, name: lookupTransferSyntax(uid)?.name })),
      },
      qido: {
        parameters: ['includefield', 'fuzzymatching', 'limit', 'offset', '{attribute keyword or tag}'],
        unknownParameters: 'refused with 400',
      },
      rendered: { mediaTypes: RENDERED_MEDIA_TYPES, parameters: ['accept', 'quality', 'viewport', 'window'] },
      etag: 'metadata resources carry a strong ETag and honour If-None-Match',
    });
  });
}
