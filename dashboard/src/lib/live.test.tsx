import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mockFetch } from "../test/render";
import { LIVE_POLL_MS, useLiveUpdates } from "./live";

function Probe({ onChange, pageKey = "k1", enabled = true }: { onChange: () => void; pageKey?: string; enabled?: boolean }) {
  const status = useLiveUpdates(pageKey, onChange, { enabled });
  return <output data-testid="status">{status}</output>;
}

function setVisibility(state: "visible" | "hidden") {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}

async function wait(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

describe("live updates", () => {
  let token = "1.0";
  let down = false;
  beforeEach(() => {
    vi.useFakeTimers();
    token = "1.0";
    down = false;
    setVisibility("visible");
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });
  const serve = () => mockFetch(() => (down ? { status: 503, body: { error: { code: "database_unavailable", message: "down", details: {} } } } : { body: { token } }));

  it("takes the baseline with the page's data, so a log stored right after it is shown", async () => {
    const calls = serve();
    const onChange = vi.fn();
    render(<Probe onChange={onChange} />);
    await wait(10); // the baseline request went out at once, with the page's own requests
    expect(calls[0].pathname).toBe("/api/v1/logs/changes");
    token = "1.1"; // a log arrives in the first moments, before the first probe
    await wait(LIVE_POLL_MS);
    expect(onChange).toHaveBeenCalledTimes(1);
    await wait(LIVE_POLL_MS);
    expect(onChange).toHaveBeenCalledTimes(1); // nothing new since
  });

  it("takes a new baseline when the page's query changes", async () => {
    serve();
    const onChange = vi.fn();
    const { rerender } = render(<Probe onChange={onChange} pageKey="a" />);
    await wait(10);
    token = "2.0";
    rerender(<Probe onChange={onChange} pageKey="b" />); // e.g. a new filter: its data is fresh
    await wait(10);
    await wait(LIVE_POLL_MS);
    expect(onChange).not.toHaveBeenCalled();
  });

  it("shows offline while the server cannot be reached, live again when it answers", async () => {
    serve();
    render(<Probe onChange={vi.fn()} />);
    await wait(10);
    expect(screen.getByTestId("status")).toHaveTextContent("live");
    down = true;
    await wait(LIVE_POLL_MS);
    expect(screen.getByTestId("status")).toHaveTextContent("offline");
    down = false;
    await wait(LIVE_POLL_MS);
    expect(screen.getByTestId("status")).toHaveTextContent("live");
  });

  it("stops polling while the tab is hidden and probes at once when it is back", async () => {
    const calls = serve();
    const onChange = vi.fn();
    render(<Probe onChange={onChange} />);
    await wait(LIVE_POLL_MS);
    const before = calls.length;
    act(() => setVisibility("hidden"));
    expect(screen.getByTestId("status")).toHaveTextContent("paused");
    token = "1.5";
    await wait(3 * LIVE_POLL_MS);
    expect(calls.length).toBe(before);
    expect(onChange).not.toHaveBeenCalled();
    act(() => setVisibility("visible"));
    await wait(10);
    expect(calls.length).toBe(before + 1);
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("does nothing when disabled", async () => {
    const calls = serve();
    render(<Probe onChange={vi.fn()} enabled={false} />);
    await wait(3 * LIVE_POLL_MS);
    expect(calls).toHaveLength(0);
    expect(screen.getByTestId("status")).toHaveTextContent("off");
  });
});
