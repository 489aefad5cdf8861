// A platform-style handler for POST /api/voice/installs/heartbeat, written against the packed
// package only as a consumer sees it: the types, a validator and the release verifier, served by
// node:http.
import type { IncomingMessage, RequestListener } from "node:http";
import {
  formatIssues,
  ReleaseVerifier,
  validateRequestBody,
  type ErrorBody,
  type InstallHeartbeatRequest,
  type InstallHeartbeatResponse,
  type ReplayMemory,
} from "@wavekat/platform-contract";
import type { components } from "@wavekat/platform-contract/wire";

/** What the handler reads of a request. */
export interface Incoming {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Uint8Array;
}

/** What the handler answers. */
export type Outgoing = { status: 200; body: InstallHeartbeatResponse } | { status: 400 | 401; body: ErrorBody };

/** The platform's install rows, keyed by installId. */
export type InstallStore = Map<string, components["schemas"]["InstallHeartbeatResponse"]>;

export function heartbeatHandler(masterPublicKey: string, store: InstallStore, replayMemory?: ReplayMemory) {
  const verifier = new ReleaseVerifier(replayMemory ? { masterPublicKey, replayMemory } : { masterPublicKey });
  return async (request: Incoming): Promise<Outgoing> => {
    const verdict = await verifier.verify(request);
    if (!verdict.ok) return { status: 401, body: { error: verdict.rejection.code, message: verdict.rejection.message } };

    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(request.body));
    } catch {
      return { status: 400, body: { error: "invalid_json" } };
    }
    const checked = validateRequestBody("install_heartbeat", parsed);
    if (!checked.valid) return { status: 400, body: { error: "invalid_body", message: formatIssues(checked.errors) } };

    const ping: InstallHeartbeatRequest = checked.value;
    const now = new Date().toISOString();
    const row: InstallHeartbeatResponse = {
      id: store.get(ping.installId)?.id ?? String(store.size + 1),
      installId: ping.installId,
      appVersion: ping.appVersion,
      os: ping.os,
      osVersion: ping.osVersion ?? null,
      arch: ping.arch ?? null,
      locale: ping.locale ?? null,
      distribution: ping.distribution ?? null,
      firstSeenAt: store.get(ping.installId)?.firstSeenAt ?? now,
      lastSeenAt: now,
    };
    store.set(ping.installId, row);
    return { status: 200, body: row };
  };
}

/** Serves `handle` on node:http at its route; the body is read as raw bytes, never re-encoded. */
export function nodeListener(handle: (request: Incoming) => Promise<Outgoing>): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (req.method !== "POST" || path !== "/api/voice/installs/heartbeat") return reply(404, { error: "not found" });
      handle({ method: req.method, path, headers: req.headers, body: Buffer.concat(chunks) }).then(
        (out) => reply(out.status, out.body),
        () => reply(500, { error: "internal" }),
      );
    });
  };
}
