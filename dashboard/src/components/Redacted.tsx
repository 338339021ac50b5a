import type { ReactNode } from "react";

/** The markers scrubbing leaves in place of a secret or personal data: [redacted:email],
 * [redacted:key:password]-style names and hashed e-mails [email:0123456789abcdef]. */
export const MARKER = /\[(?:redacted:[a-z0-9_.:-]{1,64}|email:[0-9a-f]{16})\]/g;

/** The whole text is one marker (an object key that was personal data, say). */
export function isMarker(text: string): boolean {
  return new RegExp(`^${MARKER.source}$`).test(text);
}

/** Text with every scrubbing marker styled, so nobody takes it for what the client sent. */
export function Redactable({ text }: { text: string }): ReactNode {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(MARKER)) {
    const start = match.index ?? 0;
    if (start > last) parts.push(text.slice(last, start));
    parts.push(
      <mark
        key={start}
        data-testid="redacted-marker"
        title="Removed by scrubbing before the log was stored"
        className="rounded border border-dashed border-amber-500 bg-amber-50 px-0.5 font-mono text-[0.9em] text-amber-800"
      >
        {match[0]}
      </mark>,
    );
    last = start + match[0].length;
  }
  if (!parts.length) return text;
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}

/** "3 values redacted" and by which rules; nothing when the log was stored without scrubbing. */
export function ScrubbedNote({ scrubbed }: { scrubbed: Record<string, number> | null | undefined }) {
  if (!scrubbed) return null;
  const entries = Object.entries(scrubbed).sort((a, b) => b[1] - a[1]);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (!total) return null;
  return (
    <p
      className="mt-3 inline-flex items-center gap-2 rounded border border-dashed border-amber-500 bg-amber-50 px-2 py-1 text-sm text-amber-900"
      data-testid="scrubbed-note"
      title={entries.map(([rule, n]) => `${rule}: ${n}`).join(", ")}
    >
      <span aria-hidden="true">🛡</span>
      {total} value{total === 1 ? "" : "s"} redacted before storage ({entries.map(([rule, n]) => `${rule} ${n}`).join(", ")})
    </p>
  );
}
