import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { buildHttpServer } from '../http/http-server.js';
import type { Archive } from '../main.js';
import { openTestArchive } from '../test-support.js';
import { openConformanceChecker, type ConformanceChecker } from './fhir-conformance.test-support.js';

export interface FhirReply {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any;
}

/** An archive, its HTTP server and the independent conformance checker, for the FHIR tests. */
export interface FhirHarness {
  archive: Archive;
  app: FastifyInstance;
  checker: ConformanceChecker;
  /**
   * One request through `inject`; every JSON answer is asserted to be FHIR JSON (content type) and to pass the
   * official schema and invariants.
   */
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<FhirReply>;
  close(): Promise<void>;
}

export async function openFhirHarness(checker: ConformanceChecker = openConformanceChecker()): Promise<FhirHarness> {
  const archive = await openTestArchive();
  const app = await buildHttpServer(archive);
  return {
    archive,
    app,
    checker,
    async call(method, url, body, headers = {}) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: { ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      let parsed: any;
      if (response.body.length > 0) {
        assert.match(String(response.headers['content-type']), /^application\/fhir\+json/, `content type of ${method} ${url}`);
        parsed = JSON.parse(response.body);
        assert.deepEqual(checker.problems(parsed), [], `${method} ${url} answered a non-conformant ${parsed.resourceType}`);
      }
      return { status: response.statusCode, headers: response.headers, body: parsed };
    },
    async close() {
      await app.close();
      await (archive as Archive & { cleanup(): Promise<void> }).cleanup();
    },
  };
}

/** The OperationOutcome issue expressions of a reply, flattened. */
export function expressionsOf(reply: FhirReply): string[] {
  assert.equal(reply.body?.resourceType, 'OperationOutcome');
  return (reply.body.issue as Array<{ expression?: string[] }>).flatMap((i) => i.expression ?? []);
}
