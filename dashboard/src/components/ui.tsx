import { Component, useEffect, useState, type ErrorInfo, type ReactNode } from "react";
import { ApiError, isRetryable } from "../api/client";
import type { LiveStatus } from "../lib/live";
import { Redactable } from "./Redacted";

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-2 py-8 text-sm text-slate-600">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden="true" />
      {label}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white px-6 py-10 text-center">
      <p className="font-medium text-slate-800">{title}</p>
      {children ? <div className="mt-1 text-sm text-slate-600">{children}</div> : null}
    </div>
  );
}

/** The error as a sentence; `labels` names the API's parameters as the page does (a bad
 * "Confidence ≥" is reported under that name, not as metrics.overall_confidence__gte). */
export function errorMessage(error: unknown, labels: Record<string, string> = {}): string {
  if (error instanceof ApiError) {
    const fields = Object.entries(error.details ?? {})
      .filter(([, value]) => Array.isArray(value))
      .map(([key, value]) => `${labels[key] ?? key}: ${(value as string[]).join(" ")}`);
    if (!fields.length) return error.message;
    return error.code === "validation_error" ? fields.join("; ") : `${error.message} (${fields.join("; ")})`;
  }
  if (error instanceof Error) return error.message || "Something went wrong.";
  return "Something went wrong.";
}

export function ErrorState({ error, onRetry, labels }: { error: unknown; onRetry?: () => void; labels?: Record<string, string> }) {
  const offline = error instanceof TypeError; // fetch network failure
  const invalid = error instanceof ApiError && error.status === 400;
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900">
      <p className="font-medium">{offline ? "The server cannot be reached." : invalid ? "A filter is not valid." : "Could not load this."}</p>
      <p className="mt-1 [overflow-wrap:anywhere]">{offline ? "Check your connection; we'll keep trying." : errorMessage(error, labels)}</p>
      {onRetry && isRetryable(error) ? (
        <button type="button" onClick={onRetry} className="mt-2 rounded border border-red-300 bg-white px-2 py-1 text-red-900 hover:bg-red-100">
          Try again
        </button>
      ) : null}
    </div>
  );
}

const LIVE_LOOKS: Record<Exclude<LiveStatus, "off">, { dot: string; label: string; title: string }> = {
  live: { dot: "animate-pulse bg-emerald-500", label: "Live", title: "New logs appear within seconds" },
  offline: { dot: "bg-red-600", label: "Offline, retrying", title: "The server cannot be reached; the data shown may be old" },
  paused: { dot: "bg-slate-400", label: "Paused", title: "Paused while the tab is hidden" },
};

/** Whether the page is following new logs: live, offline (the probe fails) or paused. */
export function LiveBadge({ status }: { status: LiveStatus }) {
  if (status === "off") return null;
  const look = LIVE_LOOKS[status];
  return (
    <span role="status" className="inline-flex items-center gap-1.5 text-xs text-slate-700" title={look.title} data-testid="live-badge" data-status={status}>
      <span className={`h-2 w-2 rounded-full ${look.dot}`} aria-hidden="true" /> {look.label}
    </span>
  );
}

/** One line of a table cell, cut with an ellipsis; the whole value in the tooltip. */
export function Truncate({ text, className = "", maxWidth = "max-w-[16rem]" }: { text: string | null | undefined; className?: string; maxWidth?: string }) {
  if (!text) return <span className="text-slate-600">—</span>;
  return (
    <span className={`block truncate ${maxWidth} ${className}`} title={text}>
      {text}
    </span>
  );
}

/** The tab's title: "<page> · <client> · Central Logger". */
export function useTitle(...parts: (string | null | undefined)[]): void {
  const title = [...parts.filter(Boolean), "Central Logger"].join(" · ");
  useEffect(() => {
    document.title = title;
  }, [title]);
}

/** A small inline trend: one bar per bucket (no chart library: cheap, drawn at once). */
export function Sparkline({ values, label, className = "" }: { values: number[]; label: string; className?: string }) {
  const max = Math.max(1, ...values);
  const width = Math.max(values.length * 4, 4);
  return (
    <svg viewBox={`0 0 ${width} 20`} preserveAspectRatio="none" className={`h-5 w-28 ${className}`} role="img" aria-label={label}>
      {values.map((value, index) => (
        <rect key={index} x={index * 4} y={20 - (value / max) * 20} width={3} height={(value / max) * 20 || (value ? 1 : 0)} fill="#b91c1c" />
      ))}
    </svg>
  );
}

const STATUS_STYLES: Record<string, string> = {
  SUCCESS: "bg-emerald-100 text-emerald-900 ring-emerald-300",
  PARTIAL: "bg-amber-100 text-amber-900 ring-amber-300",
  FAILED: "bg-red-100 text-red-900 ring-red-300",
  ERROR: "bg-fuchsia-100 text-fuchsia-900 ring-fuchsia-300",
};

export const STATUS_COLORS: Record<string, string> = {
  SUCCESS: "#059669",
  PARTIAL: "#d97706",
  FAILED: "#dc2626",
  ERROR: "#a21caf",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`inline-flex rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${STATUS_STYLES[status] ?? "bg-slate-100 text-slate-800 ring-slate-300"}`}>
      {status}
    </span>
  );
}

export function Card({ title, actions, children, className = "" }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm ${className}`}>
      {title || actions ? (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title ? <h2 className="min-w-0 text-sm font-semibold text-slate-800">{title}</h2> : <span />}
          {actions}
        </div>
      ) : null}
      {children}
    </section>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState<"idle" | "ok" | "fail">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone("ok");
    } catch {
      setDone("fail");
    }
    window.setTimeout(() => setDone("idle"), 1500);
  };
  return (
    <button type="button" onClick={copy} className="rounded border border-slate-300 bg-white px-2 py-0.5 text-xs text-slate-700 hover:bg-slate-100" aria-label={`${label} to clipboard`}>
      {done === "ok" ? "Copied" : done === "fail" ? "Copy failed" : label}
    </button>
  );
}

export function JsonBlock({ value, label, defaultOpen = false }: { value: unknown; label: string; defaultOpen?: boolean }) {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? "null";
  } catch {
    text = String(value);
  }
  // The copy button sits beside the summary, not in it: a control inside a <summary> is a
  // nested interactive element (screen readers and keyboards handle it badly).
  return (
    <div className="relative">
      <details open={defaultOpen} className="group rounded border border-slate-200 bg-slate-50">
        <summary className="cursor-pointer px-3 py-1.5 pr-28 text-sm text-slate-700">
          <span className="inline-block transition-transform group-open:rotate-90" aria-hidden="true">▸</span> {label}
        </summary>
        <pre className="max-h-[28rem] overflow-auto whitespace-pre-wrap border-t border-slate-200 px-3 py-2 text-xs leading-relaxed text-slate-800 [overflow-wrap:anywhere]"><Redactable text={text} /></pre>
      </details>
      <span className="absolute right-2 top-1">
        <CopyButton text={text} label="Copy JSON" />
      </span>
    </div>
  );
}

/** Never a blank page: a render error in one panel shows the error and the raw data instead. */
export class Boundary extends Component<{ children: ReactNode; fallback: (error: Error) => ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("render error", error, info.componentStack);
  }

  render() {
    return this.state.error ? this.props.fallback(this.state.error) : this.props.children;
  }
}

/** A page chunk that fails to load (the server restarted, or a deploy replaced the files while
 * the tab was open) or a page that fails to render: a message and a reload, never a blank app. */
export class PageBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null; key: string }> {
  state = { error: null as Error | null, key: this.props.resetKey };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  static getDerivedStateFromProps(props: { resetKey: string }, state: { error: Error | null; key: string }) {
    // Navigating elsewhere leaves the failed page behind.
    return props.resetKey !== state.key ? { error: null, key: props.resetKey } : null;
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("page error", error, info.componentStack);
  }

  render() {
    const error = this.state.error;
    if (!error) return this.props.children;
    const chunk = /dynamically imported module|Importing a module script failed|error loading dynamically|Failed to fetch/i.test(error.message);
    return (
      <div role="alert" className="rounded-lg border border-amber-300 bg-amber-50 px-4 py-4 text-sm text-amber-950" data-testid="page-error">
        <p className="font-semibold">{chunk ? "This page could not be loaded." : "This page stopped working."}</p>
        <p className="mt-1">
          {chunk
            ? "The dashboard was probably updated or restarted since this tab was opened. Reloading fetches the current version."
            : `Reloading usually helps. (${error.message})`}
        </p>
        <button type="button" onClick={() => window.location.reload()} className="mt-3 rounded bg-indigo-700 px-3 py-1.5 font-medium text-white hover:bg-indigo-800">
          Reload the page
        </button>
      </div>
    );
  }
}