import { useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  /** Reload in place: the current data stays on screen until the new data arrives. */
  reload: () => void;
}

/** Load `fetcher()` whenever `key` changes; stale answers of an earlier key are dropped. */
export function useLoader<T>(key: string, fetcher: () => Promise<T>): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; key?: string }>({ loading: true });
  const generation = useRef(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  const run = useCallback((background: boolean) => {
    const mine = ++generation.current;
    if (!background) setState((s) => ({ ...s, loading: true, error: undefined }));
    fetcherRef
      .current()
      .then((data) => {
        if (mine === generation.current) setState({ data, loading: false, key });
      })
      .catch((error: Error) => {
        if (mine !== generation.current) return;
        // A failed background refresh keeps the data already shown.
        setState((s) => (background && s.data !== undefined ? { ...s, loading: false } : { error, loading: false, key }));
      });
  }, [key]);

  useEffect(() => {
    run(false);
  }, [run]);

  return {
    data: state.key === key || state.loading ? state.data : undefined,
    error: state.error,
    loading: state.loading,
    reload: useCallback(() => run(true), [run]),
  };
}

/** Whether the tab is visible; polling stops while it is hidden. */
export function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}

/** Call `tick` every `ms` while the tab is visible (and once right away when it comes back). */
export function usePolling(tick: () => void, ms: number, enabled = true): void {
  const visible = usePageVisible();
  const tickRef = useRef(tick);
  tickRef.current = tick;
  const wasHidden = useRef(false);
  useEffect(() => {
    if (!enabled) return;
    if (!visible) {
      wasHidden.current = true;
      return;
    }
    if (wasHidden.current) {
      wasHidden.current = false;
      tickRef.current();
    }
    const id = window.setInterval(() => tickRef.current(), ms);
    return () => window.clearInterval(id);
  }, [visible, ms, enabled]);
}
