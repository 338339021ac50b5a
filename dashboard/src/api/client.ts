// The typed API client: openapi-fetch over the paths generated from our OpenAPI schema
// (src/api/schema.d.ts, `npm run gen:api`). Same-origin requests with the session cookie; the
// CSRF token (csrftoken cookie) is sent on every unsafe method, as Django requires.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

export class ApiError extends Error {
  status: number;
  code: string;
  details: Record<string, unknown>;
  retryAfter: number | null;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, retryAfter: number | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

export function readCookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the API answers 401: the session ended (expired, signed out elsewhere). */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

// The client of the page's URL (/dashboard/<slug>/...), sent with every API request: the
// server answers for that client (one of the user's memberships), whatever another tab chose.
let requestClient: string | null = null;

export function setRequestClient(slug: string | null): void {
  requestClient = slug;
}

export function clientHeaders(): Record<string, string> {
  return requestClient ? { "X-Dashboard-Client": requestClient } : {};
}

const csrfMiddleware: Middleware = {
  onRequest({ request }) {
    if (!["GET", "HEAD", "OPTIONS"].includes(request.method)) {
      const token = readCookie("csrftoken");
      if (token) request.headers.set("X-CSRFToken", token);
    }
    // The session endpoints are about the user, not one client.
    if (requestClient && !new URL(request.url).pathname.startsWith("/api/v1/session")) {
      request.headers.set("X-Dashboard-Client", requestClient);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !request.url.includes("/api/v1/session")) {
      unauthorizedListeners.forEach((listener) => listener());
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://localhost" : window.location.origin,
  credentials: "same-origin",
  // Multi-value filters are comma-separated (`style: form, explode: false` in the schema).
  querySerializer: { array: { style: "form", explode: false } },
  // Resolve fetch at call time (tests replace globalThis.fetch).
  fetch: (input: Request) => globalThis.fetch(input),
});
api.use(csrfMiddleware);

/** Whether trying the same request again may succeed: the server or the network failed, or it
 * asked us to slow down. A 400 (a bad filter) or a 404 will answer the same again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ApiError) return error.status >= 500 || error.status === 429 || error.status === 408;
  return true; // a network failure (TypeError) or an unexpected exception
}

/** Turn an openapi-fetch result into data or a thrown ApiError carrying our error envelope. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok && result.data !== undefined) return result.data;
  if (result.response.ok) return undefined as T; // 204
  const envelope = (result.error as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
  const retry = result.response.headers.get("Retry-After");
  throw new ApiError(
    result.response.status,
    envelope?.code ?? "http_" + result.response.status,
    envelope?.message ?? `The server answered ${result.response.status}.`,
    envelope?.details ?? {},
    retry ? Number(retry) : null,
  );
}

/** Query-string serialisation the API expects: plain key=value; undefined/null are left out, an
 * empty string is kept (`cursor=` means "cursor mode, first page"). */
export function toQuery(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    search.set(key, String(value));
  }
  return search.toString();
}

/** GET a path with arbitrary query parameters (metrics.<key>__op filters are not enumerable in
 * the schema, so the list/export calls pass their query through here). */
export async function getJson<T>(path: string, params: Record<string, string | number | boolean | undefined | null>): Promise<T> {
  const query = toQuery(params);
  const response = await globalThis.fetch(`${path}${query ? "?" + query : ""}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json", ...clientHeaders() },
  });
  let body: unknown = undefined;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
  return unwrap<T>({ data: response.ok ? (body as T) : undefined, error: body, response });
}
