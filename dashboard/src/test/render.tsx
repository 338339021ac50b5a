import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router-dom";
import { vi } from "vitest";
import { ClientProvider, clientValue } from "../client";
import { SessionContext } from "../session";
import { session } from "./fixtures";

/** The current location, rendered so tests can assert on the URL. */
function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search}</output>;
}

export function renderAt(path: string, routePath: string, element: ReactElement) {
  const value = { session, checking: false, signIn: vi.fn(), signOut: vi.fn(), rememberClient: vi.fn() };
  // The page's client is "alice": its links are /alice/...; the routes here are the page's own.
  return render(
    <SessionContext.Provider value={value}>
      <ClientProvider value={clientValue(session.memberships[0])}>
        <MemoryRouter initialEntries={[path]}>
          <Routes>
            <Route path={routePath} element={element} />
            <Route path="*" element={<p>elsewhere</p>} />
          </Routes>
          <LocationProbe />
        </MemoryRouter>
      </ClientProvider>
    </SessionContext.Provider>,
  );
}

export type Handler = (url: URL) => { status?: number; body: unknown };

/** Replace fetch: `handler` answers by URL; every requested URL is recorded. */
export function mockFetch(handler: Handler) {
  const calls: URL[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL) => {
    const raw = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const url = new URL(raw, "http://localhost");
    calls.push(url);
    const { status = 200, body } = handler(url);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}
