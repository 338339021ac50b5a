// Domain types of the dashboard, all taken from the generated OpenAPI types (schema.d.ts), so a
// change of the API's shapes breaks `npm run typecheck` instead of the page.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Status = Schemas["LogStatusEnum"];
export const STATUSES: Status[] = ["SUCCESS", "PARTIAL", "FAILED", "ERROR"];
export const ENVIRONMENTS: Schemas["EnvironmentEnum"][] = ["production", "staging", "development", "test"];

export type LogSummary = Schemas["LogListRow"]; // with `match` when the list was searched (q)
export type SearchMatch = Schemas["SearchMatch"];
export type LogDetail = Schemas["LogDetail"];
export type LogList = Schemas["LogList"];
export type Pagination = Schemas["Pagination"];
export type Overview = Schemas["MetricsOverview"];
export type CategoryRow = Schemas["CategoryRow"];
export type TimeseriesRow = Schemas["TimeseriesRow"];
export type ErrorRow = Schemas["ErrorGroup"];
export type CategoriesResponse = Schemas["MetricsCategories"];
export type TimeseriesResponse = Schemas["MetricsTimeseries"];
export type ErrorsResponse = Schemas["MetricsErrors"];
export type Usage = Schemas["MetricsUsage"];
export type SessionState = Schemas["SessionState"];
export type SessionClient = Schemas["SessionClient"];

/** Query parameters shared by every metrics endpoint (the period and its filters). */
export type MetricsQuery = NonNullable<import("./schema").operations["metrics_timeseries"]["parameters"]["query"]>;
export type SavedView = Schemas["SavedView"];
export type SavedViewPage = Schemas["PageEnum"];
export type IssueRow = Schemas["IssueRow"];
export type IssuesResponse = Schemas["MetricsIssues"];
export type IssueDetail = Schemas["MetricsIssue"];
export type VersionRow = Schemas["VersionRow"];
export type VersionsResponse = Schemas["MetricsVersions"];
export type VersionCompare = Schemas["MetricsVersionCompare"];
export type VersionComparison = Schemas["VersionComparison"];
export type UsageResponse = Schemas["MetricsUsage"];
export type LogValues = Schemas["LogValues"];
