import { Component, useState, type ErrorInfo, type ReactNode } from "react";
import { ApiError } from "../api/client";
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

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = Object.entries(error.details ?? {})
      .filter(([, value]) => Array.isArray(value))
      .map(([key, value]) => `${key}: ${(value as string[]).join(" ")}`);
    return fields.length ? `${error.message} (${fields.join("; ")})` : error.message;
  }
  if (error instanceof Error) return error.message || "Something went wrong.";
  return "Something went wrong.";
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const offline = error instanceof TypeError; // fetch network failure
  return (
    <div role="alert" className="rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900">
      <p className="font-medium">{offline ? "The server cannot be reached." : "Could not load this."}</p>
      <p className="mt-1">{offline ? "Check your connection; we'll keep trying." : errorMessage(error)}</p>
      {onRetry ? (
        <button type="button" onClick={onRetry} className="mt-2 rounded border border-red-300 bg-white px-2 py-1 text-red-900 hover:bg-red-100">
          Try again
        </button>
      ) : null}
    </div>
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
    <section className={`rounded-lg border border-slate-200 bg-white p-4 shadow-sm ${className}`}>
      {title || actions ? (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title ? <h2 className="text-sm font-semibold text-slate-800">{title}</h2> : <span />}
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
  return (
    <details open={defaultOpen} className="group rounded border border-slate-200 bg-slate-50">
      <summary className="flex cursor-pointer items-center justify-between gap-2 px-3 py-1.5 text-sm text-slate-700">
        <span>
          <span className="inline-block transition-transform group-open:rotate-90" aria-hidden="true">▸</span> {label}
        </span>
        <CopyButton text={text} label="Copy JSON" />
      </summary>
      <pre className="max-h-[28rem] overflow-auto border-t border-slate-200 px-3 py-2 text-xs leading-relaxed text-slate-800"><Redactable text={text} /></pre>
    </details>
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
