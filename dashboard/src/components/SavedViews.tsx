// Saved views: a page and its filters under a name, kept on the server per client and user
// (/api/v1/saved-views), private or shared with the client's other members. Listed in the
// navigation; each page's "Save view" button saves what the page shows now (its URL query).
import { createContext, useCallback, useContext, useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useLocation } from "react-router-dom";
import { api, unwrap } from "../api/client";
import type { SavedView, SavedViewPage } from "../api/types";
import { useClient } from "../client";
import { ensureCsrf } from "../session";
import { errorMessage } from "./ui";

interface SavedViewsValue {
  views: SavedView[] | null;
  error: string | null;
  refresh: () => void;
}

const SavedViewsContext = createContext<SavedViewsValue>({ views: null, error: null, refresh: () => undefined });

export function SavedViewsProvider({ children }: { children: ReactNode }) {
  const { slug } = useClient();
  const [views, setViews] = useState<SavedView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(() => {
    api
      .GET("/api/v1/saved-views")
      .then(unwrap)
      .then((data) => {
        setViews(data);
        setError(null);
      })
      .catch((e) => setError(errorMessage(e)));
  }, []);
  useEffect(() => {
    setViews(null);
    refresh();
  }, [slug, refresh]);
  return <SavedViewsContext.Provider value={{ views, error, refresh }}>{children}</SavedViewsContext.Provider>;
}

export function useSavedViews(): SavedViewsValue {
  return useContext(SavedViewsContext);
}

export function viewPath(view: SavedView): string {
  return `/${view.page}${view.query ? `?${view.query}` : ""}`;
}

/** The navigation's list of saved views (a disclosure: keyboard and screen-reader friendly). */
export function SavedViewsMenu({ onNavigate }: { onNavigate: () => void }) {
  const client = useClient();
  const location = useLocation();
  const { views, error, refresh } = useSavedViews();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [location.pathname, client.slug]);
  const panel = useId();
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);

  const remove = async (view: SavedView) => {
    if (!window.confirm(`Delete the saved view “${view.name}”?`)) return;
    await ensureCsrf();
    await api.DELETE("/api/v1/saved-views/{id}", { params: { path: { id: view.id } } });
    refresh();
  };

  return (
    <div className="relative" ref={root}>
      <button
        type="button"
        aria-expanded={open}
        aria-controls={panel}
        onClick={() => setOpen((o) => !o)}
        className="rounded px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100"
      >
        Saved views{views?.length ? ` (${views.length})` : ""} <span aria-hidden="true">▾</span>
      </button>
      {open ? (
        <div id={panel} className="z-20 mt-1 w-full rounded-lg border border-slate-200 bg-white p-2 shadow-lg lg:absolute lg:w-80" data-testid="saved-views">
          {error ? <p className="px-2 py-1 text-sm text-red-800">{error}</p> : null}
          {views && !views.length ? (
            <p className="px-2 py-1 text-sm text-slate-700">No saved views yet. Use “Save view” on a page to keep its filters here.</p>
          ) : null}
          <ul className="max-h-96 overflow-y-auto">
            {views?.map((view) => (
              <li key={view.id} className="flex items-center gap-2 rounded px-2 py-1 hover:bg-slate-50">
                <Link
                  to={client.path(viewPath(view))}
                  onClick={() => {
                    setOpen(false);
                    onNavigate();
                  }}
                  className="min-w-0 flex-1 truncate text-sm text-indigo-800 hover:underline"
                  title={`${view.name} — ${view.page}${view.query ? `?${view.query}` : ""}`}
                >
                  {view.name}
                </Link>
                <span className="shrink-0 text-xs text-slate-600">{view.shared ? (view.mine ? "shared" : `by ${view.owner}`) : "private"}</span>
                {view.mine || (view.shared && client.role === "admin") ? (
                  <button type="button" onClick={() => remove(view)} className="shrink-0 rounded px-1 text-xs text-red-800 hover:bg-red-50" aria-label={`Delete saved view ${view.name}`}>
                    Delete
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}

/** "Save view": the current page and its URL query under a name, private or shared. */
export function SaveViewButton({ page }: { page: SavedViewPage }) {
  const location = useLocation();
  const { refresh } = useSavedViews();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [shared, setShared] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const dialog = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      await ensureCsrf();
      // A view is its filters and order: not the page it was saved on (nor a search's cursor).
      const params = new URLSearchParams(location.search);
      params.delete("page");
      params.delete("cursor");
      const query = params.toString();
      const view = unwrap(await api.POST("/api/v1/saved-views", { body: { name, page, query, shared } }));
      setSaved(view.name);
      setOpen(false);
      setName("");
      refresh();
    } catch (e) {
      setError(errorMessage(e));
    }
  };

  return (
    <div className="relative">
      <button
        type="button"
        aria-expanded={open}
        aria-controls={dialog}
        onClick={() => {
          setOpen((o) => !o);
          setSaved(null);
        }}
        className="rounded border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100"
      >
        Save view
      </button>
      {saved ? (
        <span role="status" className="ml-2 text-xs text-emerald-800">
          Saved “{saved}”
        </span>
      ) : null}
      {open ? (
        <form id={dialog} onSubmit={submit} aria-label="Save this view" className="absolute right-0 z-20 mt-1 w-72 max-w-[85vw] space-y-2 rounded-lg border border-slate-200 bg-white p-3 shadow-lg">
          <label className="block text-sm text-slate-800">
            Name
            <input autoFocus required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} className="mt-1 w-full rounded border border-slate-300 px-2 py-1" />
          </label>
          <label className="flex items-center gap-2 text-sm text-slate-800">
            <input type="checkbox" checked={shared} onChange={(e) => setShared(e.target.checked)} />
            Share with everyone in this client
          </label>
          {error ? (
            <p role="alert" className="text-sm text-red-800">
              {error}
            </p>
          ) : null}
          <div className="flex justify-end gap-2">
            <button type="button" onClick={() => setOpen(false)} className="rounded px-2 py-1 text-sm text-slate-700 hover:bg-slate-100">
              Cancel
            </button>
            <button type="submit" className="rounded bg-indigo-700 px-3 py-1 text-sm font-medium text-white hover:bg-indigo-800">
              Save
            </button>
          </div>
        </form>
      ) : null}
    </div>
  );
}
