/**
 * Coded errors of the FHIR API (house style: `ATRIUM_ERR_FHIR_<PROBLEM>`). Each carries its HTTP status and the
 * issues of the `OperationOutcome` it is answered with (FHIR R4 operationoutcome.html), translated once, at the
 * edge (`routes.ts`).
 */
export type FhirErrorCode =
  | 'ATRIUM_ERR_FHIR_INVALID'
  | 'ATRIUM_ERR_FHIR_NOT_FOUND'
  | 'ATRIUM_ERR_FHIR_GONE'
  | 'ATRIUM_ERR_FHIR_CONFLICT'
  | 'ATRIUM_ERR_FHIR_PRECONDITION_FAILED'
  | 'ATRIUM_ERR_FHIR_MULTIPLE_MATCHES'
  | 'ATRIUM_ERR_FHIR_NOT_SUPPORTED'
  | 'ATRIUM_ERR_FHIR_READ_ONLY'
  | 'ATRIUM_ERR_FHIR_NOT_ACCEPTABLE';

/** An `OperationOutcome.issue` (issue-type codes from http://hl7.org/fhir/issue-type). */
export interface FhirIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: string;
  diagnostics: string;
  /** FHIRPath of the element at fault, e.g. `Patient.name[0].given[1]`. */
  expression?: string[];
}

const STATUS: Record<FhirErrorCode, number> = {
  ATRIUM_ERR_FHIR_INVALID: 400,
  ATRIUM_ERR_FHIR_NOT_FOUND: 404,
  ATRIUM_ERR_FHIR_GONE: 410,
  ATRIUM_ERR_FHIR_CONFLICT: 409,
  ATRIUM_ERR_FHIR_PRECONDITION_FAILED: 412,
  ATRIUM_ERR_FHIR_MULTIPLE_MATCHES: 412,
  ATRIUM_ERR_FHIR_NOT_SUPPORTED: 400,
  ATRIUM_ERR_FHIR_READ_ONLY: 405,
  ATRIUM_ERR_FHIR_NOT_ACCEPTABLE: 406,
};

const ISSUE_TYPE: Record<FhirErrorCode, string> = {
  ATRIUM_ERR_FHIR_INVALID: 'invalid',
  ATRIUM_ERR_FHIR_NOT_FOUND: 'not-found',
  ATRIUM_ERR_FHIR_GONE: 'deleted',
  ATRIUM_ERR_FHIR_CONFLICT: 'conflict',
  ATRIUM_ERR_FHIR_PRECONDITION_FAILED: 'conflict',
  ATRIUM_ERR_FHIR_MULTIPLE_MATCHES: 'multiple-matches',
  ATRIUM_ERR_FHIR_NOT_SUPPORTED: 'not-supported',
  ATRIUM_ERR_FHIR_READ_ONLY: 'forbidden',
  ATRIUM_ERR_FHIR_NOT_ACCEPTABLE: 'not-supported',
};

/** A refused FHIR interaction. `issues` default to one error issue with the message and `expression`. */
export class FhirError extends Error {
  readonly httpStatus: number;
  readonly issues: FhirIssue[];

  constructor(
    readonly code: FhirErrorCode,
    message: string,
    options: { expression?: string[]; issues?: FhirIssue[]; cause?: unknown; httpStatus?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = code === 'ATRIUM_ERR_FHIR_INVALID' ? 'FhirValidationError' : 'FhirError';
    this.httpStatus = options.httpStatus ?? STATUS[code];
    this.issues = options.issues ?? [
      {
        severity: 'error',
        code: ISSUE_TYPE[code],
        diagnostics: message,
        ...(options.expression ? { expression: options.expression } : {}),
      },
    ];
  }
}

/** The OperationOutcome resource for a list of issues. */
export function operationOutcome(issues: FhirIssue[]): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: issues };
}

/** The OperationOutcome and status for any error: FHIR errors as they are, others as a 500 `exception`. */
export function outcomeOfError(error: unknown): { status: number; outcome: Record<string, unknown> } {
  if (error instanceof FhirError) return { status: error.httpStatus, outcome: operationOutcome(error.issues) };
  const e = error as { statusCode?: number; httpStatus?: number; message?: string } | undefined;
  const status = typeof e?.httpStatus === 'number' ? e.httpStatus : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  return {
    status,
    outcome: operationOutcome([
      {
        severity: 'error',
        code: status === 413 ? 'too-costly' : status >= 500 ? 'exception' : 'invalid',
        diagnostics: e?.message ?? String(error),
      },
    ]),
  };
}
