// "Export CSV" with progress: the export streams (GET /api/v1/logs/export); the button reads the
// stream itself, shows how many rows have arrived and can cancel, then saves the file under the
// server's name. A large filter takes seconds: the user sees it working, not a silent button.
import { useRef, useState } from "react";
import { ApiError, clientHeaders } from "../api/client";
import { exportUrl, type Filters, type Ordering } from "../lib/filters";
import { formatCount } from "../lib/format";
import { errorMessage } from "./ui";

type Progress = { rows: number; bytes: number } | null;

function filenameOf(response: Response): string {
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "");
  return match?.[1] ?? "logs.csv";
}

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function failure(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
    return new ApiError(response.status, body.error?.code ?? "http_" + response.status, body.error?.message ?? "Export failed.", body.error?.details ?? {});
  } catch {
    return new ApiError(response.status, "http_" + response.status, `The server answered ${response.status}.`);
  }
}

export function ExportButton({ filters, ordering }: { filters: Filters; ordering: Ordering }) {
  const [progress, setProgress] = useState<Progress>(null);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);

  const run = async () => {
    setError(null);
    const controller = new AbortController();
    abort.current = controller;
    setProgress({ rows: 0, bytes: 0 });
    try {
      const response = await fetch(exportUrl(filters, ordering), { credentials: "same-origin", headers: clientHeaders(), signal: controller.signal });
      if (!response.ok || !response.body) throw await failure(response);
      const reader = response.body.getReader();
      const parts: Uint8Array[] = [];
      let rows = -1; // the header line is not a row
      let bytes = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        bytes += value.length;
        for (const byte of value) if (byte === 10) rows++;
        setProgress({ rows: Math.max(rows, 0), bytes });
      }
      save(new Blob(parts as BlobPart[], { type: "text/csv" }), filenameOf(response));
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError")) setError(errorMessage(e));
    } finally {
      abort.current = null;
      setProgress(null);
    }
  };

  return (
    <span className="inline-flex flex-wrap items-center gap-2">
      {progress ? (
        <>
          <span role="status" className="text-xs text-slate-700" data-testid="export-progress">
            Exporting… {formatCount(progress.rows)} rows ({(progress.bytes / 1_048_576).toFixed(1)} MB)
          </span>
          <button type="button" onClick={() => abort.current?.abort()} className="rounded border border-slate-300 bg-white px-2 py-1 text-xs text-slate-800 hover:bg-slate-100">
            Cancel
          </button>
        </>
      ) : (
        <button
          type="button"
          onClick={run}
          className="rounded border border-slate-300 bg-white px-3 py-1.5 font-medium text-slate-800 hover:bg-slate-100"
          data-testid="export-csv"
        >
          Export CSV
        </button>
      )}
      {error ? (
        <span role="alert" className="text-xs text-red-800">
          {error}
        </span>
      ) : null}
    </span>
  );
}
