import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Archive } from '../main.js';
import { FhirError, outcomeOfError } from './fhir-error.js';
import { FhirService, type FhirRequest, type FhirResponse } from './fhir-service.js';
import { ImagingStudySync } from './imaging-study-sync.js';

export { FhirService } from './fhir-service.js';
export type { FhirRequest, FhirResponse, FhirResource } from './fhir-service.js';
export { FhirError, type FhirIssue } from './fhir-error.js';
export { ImagingStudySync } from './imaging-study-sync.js';
export { deriveImagingStudy, RECONCILIATION_TAG, DICOMWEB_ENDPOINT_ID } from './imaging-study.js';
export { systemForIssuer, issuerForSystem } from './patient-identity.js';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
/** Transactions carry scanned documents and PDFs as base64: allow more than fastify's 1 MiB default. */
const BODY_LIMIT = 64 * 1024 * 1024;

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The absolute base of the API as the client addressed it. */
function baseOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}/fhir`;
}

function send(reply: FastifyReply, response: FhirResponse): FastifyReply {
  reply.code(response.status);
  if (response.location) reply.header('location', response.location);
  if (response.etag) reply.header('etag', response.etag);
  if (response.lastModified) reply.header('last-modified', response.lastModified);
  if (response.body === undefined) return reply.send();
  return reply.type(FHIR_JSON).send(JSON.stringify(response.body));
}

/**
 * The FHIR R4 API under `/fhir` (FHIR R4 http.html): every interaction of `FhirService`, JSON only
 * (`application/fhir+json`, `application/json`; JSON Patch as `application/json-patch+json`), every error an
 * OperationOutcome. The ImagingStudy sync is started apart, by `startFhirImagingSync`.
 */
export async function registerFhir(app: FastifyInstance, archive: Archive): Promise<void> {
  const service = new FhirService({ database: archive.database, logger: archive.logger.child({ component: 'fhir' }) });
  await service.reindexIfStale();
  await app.register(
    async (fhir) => {
      fhir.removeAllContentTypeParsers();
      const parseJson = (_request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => {
        if (body.length === 0) return done(null, undefined);
        try {
          done(null, JSON.parse(body));
        } catch (error) {
          done(new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot parse the request body as JSON: ${(error as Error).message}`, { cause: error }));
        }
      };
      fhir.addContentTypeParser(
        ['application/fhir+json', 'application/json', 'application/json-patch+json'],
        { parseAs: 'string', bodyLimit: BODY_LIMIT },
        parseJson,
      );
      fhir.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
        done(null, [...new URLSearchParams(body as string)]);
      });
      fhir.addContentTypeParser('*', { parseAs: 'string' }, (request, _body, done) => {
        done(
          new FhirError('ATRIUM_ERR_FHIR_NOT_SUPPORTED', `Cannot read a body of type '${request.headers['content-type'] ?? ''}': send application/fhir+json`, {
            httpStatus: 415,
          }),
        );
      });

      fhir.setErrorHandler((error, request, reply) => {
        const { status, outcome } = outcomeOfError(error);
        if (status >= 500) request.log.error({ err: error }, 'FHIR request failed');
        return reply.code(status).type(FHIR_JSON).send(JSON.stringify(outcome));
      });
      fhir.setNotFoundHandler((request, reply) => {
        const { status, outcome } = outcomeOfError(
          new FhirError('ATRIUM_ERR_FHIR_NOT_FOUND', `Cannot ${request.method} '${request.url.split('?')[0]}': no such FHIR route`),
        );
        return reply.code(status).type(FHIR_JSON).send(JSON.stringify(outcome));
      });

      const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const accept = header(request, 'accept');
        if (accept && !/(\*\/\*|application\/\*|json)/.test(accept)) {
          throw new FhirError('ATRIUM_ERR_FHIR_NOT_ACCEPTABLE', `Cannot answer in '${accept}': this server speaks application/fhir+json`);
        }
        const [pathPart, queryPart] = request.url.split('?') as [string, string | undefined];
        const path = pathPart.replace(/^\/fhir\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
        let query: Array<[string, string]> = queryPart ? [...new URLSearchParams(queryPart)] : [];
        let body = request.body;
        if (request.method === 'POST' && path[1] === '_search') {
          // POST _search: form parameters join the URL's (http.html#search).
          query = [...query, ...((Array.isArray(body) ? body : []) as Array<[string, string]>)];
          body = undefined;
        }
        const fhirRequest: FhirRequest = {
          method: request.method as FhirRequest['method'],
          path,
          query,
          ...(body !== undefined ? { body } : {}),
          base: baseOf(request),
        };
        const copy = (name: string, key: 'ifMatch' | 'ifNoneExist' | 'ifNoneMatch' | 'ifModifiedSince' | 'prefer') => {
          const value = header(request, name);
          if (value !== undefined) fhirRequest[key] = value;
        };
        copy('if-match', 'ifMatch');
        copy('if-none-exist', 'ifNoneExist');
        copy('if-none-match', 'ifNoneMatch');
        copy('if-modified-since', 'ifModifiedSince');
        copy('prefer', 'prefer');
        const needsBody = request.method === 'PUT' || request.method === 'PATCH' || (request.method === 'POST' && path[1] !== '_search');
        if (needsBody && fhirRequest.body === undefined) {
          throw new FhirError('ATRIUM_ERR_FHIR_INVALID', `Cannot ${request.method} '${path.join('/') || '/'}': the request has no body`);
        }
        const response = await service.handle(fhirRequest);
        if (request.method === 'HEAD') return send(reply, { ...response, body: undefined } as FhirResponse);
        return send(reply, response);
      };
      fhir.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/', handler, bodyLimit: BODY_LIMIT });
      fhir.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/*', handler, bodyLimit: BODY_LIMIT });
    },
    { prefix: '/fhir' },
  );
}

/**
 * Starts deriving ImagingStudy resources from the archive's change feed (architecture.md, data model); `stop()`
 * before closing the archive.
 */
export function startFhirImagingSync(archive: Archive, httpUrl: string): ImagingStudySync {
  const service = new FhirService({ database: archive.database, logger: archive.logger.child({ component: 'fhir' }) });
  return new ImagingStudySync(service, archive.archive, archive.logger.child({ component: 'fhir-imaging-sync' }), {
    dicomwebAddress: `${httpUrl}/dicomweb`,
  }).start();
}
