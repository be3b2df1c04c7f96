import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Archive } from '../main.js';
import { reasonOf } from '../errors.js';
import { sendInstances } from '../dimse-services/send-instances.js';
import { RemoteAeRegistry } from '../remote-nodes/remote-ae-registry.js';
import type { StoredInstanceRef } from '../retrieve/index.js';
import { sendProblem } from '../http/problem.js';
import { zipStream, type ZipEntry } from '../retrieve/index.js';

/** What a send of a study to a DICOM node ended with (PS3.4 C.4.2.3-style counts, and why each failure failed). */
export interface StudySendResult {
  aeTitle: string;
  completed: number;
  warning: number;
  failed: number;
  failures: { sopInstanceUid: string; reason: string }[];
}

/** Characters a file name on Windows, macOS and Linux can all hold. */
function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64) || 'study';
}

/**
 * The web app's study actions:
 * - `GET /api/studies/:study/zip`: the study's stored Part 10 files as one ZIP (`<series UID>/<SOP instance UID>.dcm`,
 *   bytes exactly as stored), streamed instance by instance;
 * - `POST /api/studies/:study/send` with `{ "aeTitle": "PACS2" }`: C-STORE of every instance to a configured
 *   remote AE (PS3.4 Annex B) in its stored transfer syntax, answered when done with the counts.
 */
export function registerStudyActions(app: FastifyInstance, archive: Archive): void {
  app.get('/api/studies/:study/zip', async (request: FastifyRequest<{ Params: { study: string } }>, reply: FastifyReply) => {
    const studyInstanceUid = request.params.study;
    const first = await archive.database.kysely
      .selectFrom('study')
      .innerJoin('patient', 'patient.id', 'study.patient_fk')
      .select(['patient.patient_id', 'study.study_date', 'study.accession_number'])
      .where('study.study_instance_uid', '=', studyInstanceUid)
      .executeTakeFirst();
    if (!first) return sendProblem(reply, 404, `Cannot zip study '${studyInstanceUid}': it is not stored`);
    const fileName = safeName([first.patient_id, first.study_date, first.accession_number].filter(Boolean).join('_'));
    const entries = async function* (): AsyncGenerator<ZipEntry> {
      for await (const ref of archive.retrieve.instances({ studyInstanceUid })) {
        yield { name: `${ref.seriesInstanceUid}/${ref.sopInstanceUid}.dcm`, open: () => archive.retrieve.openPart10(ref) };
      }
    };
    return reply
      .type('application/zip')
      .header('content-disposition', `attachment; filename="${fileName}.zip"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(zipStream(entries())));
  });

  app.post('/api/studies/:study/send', async (request: FastifyRequest<{ Params: { study: string }; Body: unknown }>, reply: FastifyReply) => {
    const studyInstanceUid = request.params.study;
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    if (typeof body.aeTitle !== 'string' || body.aeTitle.trim() === '') {
      return sendProblem(reply, 400, `Cannot send study '${studyInstanceUid}': the body names no aeTitle`);
    }
    const ae = await new RemoteAeRegistry(archive).require(body.aeTitle.trim());
    const refs: StoredInstanceRef[] = [];
    for await (const ref of archive.retrieve.instances({ studyInstanceUid })) refs.push(ref);
    if (refs.length === 0) return sendProblem(reply, 404, `Cannot send study '${studyInstanceUid}': it is not stored`);
    const result: StudySendResult = { aeTitle: ae.aeTitle, completed: 0, warning: 0, failed: 0, failures: [] };
    try {
      for await (const progress of sendInstances(archive, ae, refs)) {
        result.completed = progress.completed;
        result.warning = progress.warning;
        result.failed = progress.failed;
        result.failures = progress.failures;
      }
    } catch (error) {
      return sendProblem(reply, 502, reasonOf(error));
    }
    return reply.send(result);
  });
}
