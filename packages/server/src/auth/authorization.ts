/**
 * One authorization policy for every way in: each HTTP route and each network service asks it before doing
 * anything (architecture.md, identity). The embedded default allows everything and is meant for a clinic's
 * development or single-machine install behind 127.0.0.1; the security issue replaces it with users, roles and AE
 * rules.
 */
export type AccessRequest =
  | {
      kind: 'http';
      method: string;
      /** Path and query as received. */
      url: string;
      /** The route pattern when known (for example `/api/stats`), so policies match routes, not raw URLs. */
      route: string | undefined;
      remoteAddress: string | undefined;
      headers: Readonly<Record<string, string | string[] | undefined>>;
    }
  | {
      kind: 'dimse';
      /** `association` when a peer asks to associate; the DIMSE service name for each operation after that. */
      service: string;
      callingAeTitle: string;
      calledAeTitle: string;
      remoteAddress: string | undefined;
    }
  | {
      kind: 'cli';
      command: string;
    };

export type AccessDecision = { allow: true; subject: string } | { allow: false; reason: string };

export interface AuthorizationPolicy {
  readonly name: string;
  authorize(request: AccessRequest): Promise<AccessDecision> | AccessDecision;
}

/** Allows every request; the subject names where it came from so audit records still say who. */
export function openDevelopmentPolicy(): AuthorizationPolicy {
  return {
    name: 'open-development',
    authorize(request) {
      switch (request.kind) {
        case 'http':
          return { allow: true, subject: `anonymous@${request.remoteAddress ?? 'unknown'}` };
        case 'dimse':
          return { allow: true, subject: `ae:${request.callingAeTitle}` };
        case 'cli':
          return { allow: true, subject: 'local-cli' };
      }
    },
  };
}
