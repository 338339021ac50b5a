// The alerts API, typed from the OpenAPI schema (src/api/schema.d.ts). Unsafe calls make sure
// the CSRF cookie exists first (a session needs it for POST/PATCH/DELETE).
import { api, readCookie, unwrap } from "../api/client";
import type { components } from "../api/schema";
import { ensureCsrf } from "../session";

type Schemas = components["schemas"];
export type AlertRule = Schemas["AlertRule"];
export type AlertRuleInput = Schemas["AlertRuleRequest"];
export type AlertKind = Schemas["AlertKindEnum"];
export type AlertChannel = Schemas["AlertChannel"];
export type AlertChannelInput = Schemas["AlertChannelRequest"];
export type AlertEvent = Schemas["AlertEvent"];
export type AlertEventList = Schemas["AlertEventList"];
export type AlertPreview = Schemas["AlertPreview"];
export type AlertPreviewInput = Schemas["AlertRuleDraftRequest"];
export type AlertRulePatch = Schemas["PatchedAlertRuleRequest"];
export type AlertTestResult = Schemas["AlertTestResult"];

async function csrf(): Promise<void> {
  if (!readCookie("csrftoken")) await ensureCsrf();
}

export async function listRules(state?: "ok" | "firing"): Promise<AlertRule[]> {
  return unwrap(await api.GET("/api/v1/alerts/rules", { params: { query: state ? { state } : {} } })).data;
}

export async function getRule(id: number): Promise<AlertRule> {
  return unwrap(await api.GET("/api/v1/alerts/rules/{id}", { params: { path: { id } } }));
}

export async function createRule(body: AlertRuleInput): Promise<AlertRule> {
  await csrf();
  return unwrap(await api.POST("/api/v1/alerts/rules", { body }));
}

export async function updateRule(id: number, body: AlertRulePatch): Promise<AlertRule> {
  await csrf();
  return unwrap(await api.PATCH("/api/v1/alerts/rules/{id}", { params: { path: { id } }, body }));
}

export async function deleteRule(id: number): Promise<void> {
  await csrf();
  unwrap(await api.DELETE("/api/v1/alerts/rules/{id}", { params: { path: { id } } }));
}

export async function testRule(id: number): Promise<AlertTestResult> {
  await csrf();
  return unwrap(await api.POST("/api/v1/alerts/rules/{id}/test", { params: { path: { id } } }));
}

export async function previewRule(body: AlertPreviewInput): Promise<AlertPreview> {
  await csrf();
  return unwrap(await api.POST("/api/v1/alerts/rules/preview", { body }));
}

export async function listEvents(query: { rule?: number; state?: "firing" | "resolved"; page?: number; page_size?: number }): Promise<AlertEventList> {
  return unwrap(await api.GET("/api/v1/alerts/events", { params: { query } }));
}
