// @vitest-environment node
import { describe, expect, it } from "vitest";
import { apiListParams, exportUrl, readListState, toggleListValue, writeListState } from "./filters";

describe("list state in the URL", () => {
  it("reads filters, ordering and paging from the URL", () => {
    const state = readListState(new URLSearchParams("status=FAILED,ERROR&q=timeout&confidence_max=0.5&needs_more_info=true&ordering=-execution_time_seconds&page=3&page_size=100&metrics.plan_steps__gte=4"));
    expect(state).toEqual({
      filters: { status: "FAILED,ERROR", q: "timeout", confidence_max: "0.5", needs_more_info: "true", metrics: { "metrics.plan_steps__gte": "4" } },
      ordering: "-execution_time_seconds",
      page: 3,
      pageSize: 100,
    });
  });

  it("falls back to defaults on bad values", () => {
    const state = readListState(new URLSearchParams("ordering=drop table&page=-2&page_size=9999&status="));
    expect(state).toEqual({ filters: {}, ordering: "-executed_at", page: 1, pageSize: 50 });
  });

  it("round-trips and leaves defaults out of the URL", () => {
    const url = "category=billing_issue&environment=production&start_date=2025-01-01&ordering=execution_time_seconds&page=2";
    expect(writeListState(readListState(new URLSearchParams(url))).toString()).toBe(url);
    expect(writeListState(readListState(new URLSearchParams(""))).toString()).toBe("");
  });

  it("maps dashboard filters to the API's metrics filters", () => {
    const state = readListState(new URLSearchParams("confidence_min=0.2&confidence_max=0.5&needs_more_info=true&ticket_id=12345&page=2"));
    expect(apiListParams(state)).toEqual({
      "metrics.overall_confidence__gte": "0.2",
      "metrics.overall_confidence__lte": "0.5",
      "metrics.needs_more_info": "true",
      ticket_id: "12345",
      ordering: "-executed_at",
      page: "2",
      page_size: "50",
    });
  });

  it("pages a newest-first search by cursor, any other order by page number", () => {
    const deep = readListState(new URLSearchParams("q=refund&status=FAILED&page=3&cursor=abc"));
    expect(deep.cursor).toBe("abc");
    expect(apiListParams(deep)).toEqual({ q: "refund", status: "FAILED", ordering: "-executed_at", cursor: "abc", page_size: "50" });
    expect(writeListState(deep).toString()).toBe("q=refund&status=FAILED&page=3&cursor=abc");
    expect(apiListParams(readListState(new URLSearchParams("q=refund")))).toMatchObject({ cursor: "" });
    const byDuration = readListState(new URLSearchParams("q=refund&ordering=-execution_time_seconds&page=3&cursor=abc"));
    expect(apiListParams(byDuration)).toMatchObject({ page: "3" });
    expect(apiListParams(byDuration)).not.toHaveProperty("cursor");
    expect(writeListState(byDuration).toString()).toBe("q=refund&ordering=-execution_time_seconds&page=3");
  });

  it("builds the export link with the same filters and no paging", () => {
    const state = readListState(new URLSearchParams("status=FAILED&q=refund&page=4"));
    expect(exportUrl(state.filters, state.ordering)).toBe("/api/v1/logs/export?format=csv&q=refund&status=FAILED&ordering=-executed_at");
  });

  it("toggles values of a multi-value filter", () => {
    expect(toggleListValue(undefined, "FAILED")).toBe("FAILED");
    expect(toggleListValue("FAILED", "ERROR")).toBe("FAILED,ERROR");
    expect(toggleListValue("FAILED,ERROR", "FAILED")).toBe("ERROR");
  });
});
