// Domain types of the read API, as the dashboard uses them.
// TODO-at-merge marker removed once these are derived from the generated schema.
export type Status = "SUCCESS" | "PARTIAL" | "FAILED" | "ERROR";
export const STATUSES: Status[] = ["SUCCESS", "PARTIAL", "FAILED", "ERROR"];
export const ENVIRONMENTS = ["production", "staging", "development", "test"] as const;

export interface LogSummary {
  id: string;
  event_id: string | null;
  environment: string;
  workflow_version: string | null;
  ticket_id: string | null;
  executed_at: string;
  execution_time_seconds: number | null;
  status: string;
  category: string | null;
  resolution_status: string | null;
  customer_type: string | null;
  workflow_error: string | null;
  workflow_error_type: string | null;
  workflow_error_node: string | null;
  is_system_error: boolean | null;
  metrics: Record<string, unknown>;
  created_at: string;
}

export interface LogDetail extends LogSummary {
  payload: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  extra: Record<string, unknown>;
  ticket_subject_hash: string | null;
  requester_email_hash: string | null;
}

export interface Pagination {
  page: number | null;
  page_size: number;
  total: number | null;
  pages: number | null;
  total_is_exact: boolean;
  next_cursor: string | null;
}

export interface LogList {
  data: LogSummary[];
  pagination: Pagination;
}

export interface PeriodFigures {
  total_tickets: number;
  success_rate: number;
  avg_execution_time: number;
  error_count: number;
  status_counts: Record<Status, number>;
  p50_execution_time: number;
  p95_execution_time: number;
  period_start: string;
  period_end: string;
}

export interface Overview extends PeriodFigures {
  period_days: number;
  previous: PeriodFigures;
}

export interface CategoryRow {
  category: string | null;
  count: number;
  success_count: number;
  success_rate: number;
  error_count: number;
  avg_execution_time: number;
}

export interface TimeseriesRow {
  bucket: string;
  count: number;
  success_count: number;
  success_rate: number;
  error_count: number;
  avg_execution_time: number;
  p95_execution_time: number;
}

export interface ErrorRow {
  workflow_error_type: string | null;
  workflow_error_node: string | null;
  count: number;
  latest_log_id: string | null;
  latest_executed_at: string | null;
  latest_message: string | null;
}

export interface DataList<T> {
  data: T[];
  period_start?: string;
  period_end?: string;
}

export interface SessionClient {
  slug: string;
  name: string;
  role: string;
}

export interface SessionState {
  user: { username: string; email: string };
  memberships: SessionClient[];
  current_client: SessionClient | null;
  session_expires_at: string;
}
