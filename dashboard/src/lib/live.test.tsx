import { act, render } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { list, summary } from "../test/fixtures";
import { mockFetch } from "../test/render";
import { LIVE_POLL_MS, useLiveUpdates } from "./live";

function Probe({ onChange, filters }: { onChange: () => void; filters?: Record<string, string> }) {
  useLiveUpdates(onChange, { probeFilters: filters });
  return null;
}

function setVisibility(state: "visible" | "hidden") {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}

async function tick() {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(LIVE_POLL_MS);
  });
}

describe("live updates", () => {
  let head = "first";
  beforeEach(() => {
    vi.useFakeTimers();
    head = "first";
    setVisibility("visible");
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("probes the newest log cheaply and reloads only when it changes", async () => {
    const calls = mockFetch(() => ({ body: list([summary({ id: head })]) }));
    const onChange = vi.fn();
    render(<Probe onChange={onChange} filters={{ environment: "production" }} />);
    await tick();
    await tick();
    expect(onChange).not.toHaveBeenCalled();
    expect(Object.fromEntries(calls[0].searchParams)).toEqual({ environment: "production", cursor: "", page_size: "1", ordering: "-executed_at" });
    head = "second";
    await tick();
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("stops polling while the tab is hidden and probes at once when it is back", async () => {
    const calls = mockFetch(() => ({ body: list([summary({ id: head })]) }));
    const onChange = vi.fn();
    render(<Probe onChange={onChange} />);
    await tick();
    const before = calls.length;
    act(() => setVisibility("hidden"));
    head = "second";
    await tick();
    await tick();
    await tick();
    expect(calls.length).toBe(before);
    expect(onChange).not.toHaveBeenCalled();
    act(() => setVisibility("visible"));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(calls.length).toBe(before + 1);
    expect(onChange).toHaveBeenCalledTimes(1);
  });
});
