import type { Bindings } from '../env';
import { logEvent } from '../log';
import { describeIssues, providerUrl } from '../vault/schema';

// The trace export settings (README, "Traces"), read once per env object. Without a valid
// OTEL_EXPORTER_OTLP_ENDPOINT traces are off: no attempt is logged and nothing is sent. The endpoint
// obeys the rule of the vault's endpoints (https, http only for a loopback host): the headers
// usually carry the collector's API key.

export interface TraceSettings {
  /** `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces`, when traces are exported. */
  url?: string;
  /** OTEL_EXPORTER_OTLP_HEADERS, and the content type. */
  headers: Record<string, string>;
  /** `service.name` of the spans' resource. */
  serviceName: string;
}

type TraceEnv = Pick<Bindings, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_HEADERS' | 'OTEL_SERVICE_NAME' | 'DEBUG'>;

const parsed = new WeakMap<object, TraceSettings>();

/** The trace settings of an env, parsed once per env object (a problem is logged then). */
export function traceSettings(env: TraceEnv): TraceSettings {
  let settings = parsed.get(env);
  if (settings) return settings;
  const problems: string[] = [];
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined;
  const checked = endpoint === undefined ? undefined : providerUrl.safeParse(endpoint);
  if (checked && !checked.success) problems.push(`OTEL_EXPORTER_OTLP_ENDPOINT ${describeIssues(checked.error).replace(/^\(root\): /, '')}`);
  settings = {
    // The OTLP/HTTP rule for the base endpoint: the signal's path is appended to whatever path it has.
    url: checked?.success ? `${endpoint!.replace(/\/+$/, '')}/v1/traces` : undefined,
    headers: { ...otlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS, problems), 'content-type': 'application/json' },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'switchyard',
  };
  parsed.set(env, settings);
  if (problems.length > 0) logEvent(env, 'error', { event: 'traces_settings_invalid', problems });
  return settings;
}

/** Whether traces are exported: a valid endpoint is set. Unset, this is the one check a request costs. */
export const tracesOn = (env: TraceEnv): boolean => !!env.OTEL_EXPORTER_OTLP_ENDPOINT && traceSettings(env).url !== undefined;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * OTEL_EXPORTER_OTLP_HEADERS as the OpenTelemetry specification writes it: `name=value` pairs
 * separated by commas, values percent-encoded (W3C Baggage). An entry that is not one is skipped and
 * named by its position only: a malformed entry may be a piece of a secret.
 */
function otlpHeaders(text: string | undefined, problems: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  (text ?? '').split(',').forEach((entry, index) => {
    if (entry.trim() === '') return;
    const at = entry.indexOf('=');
    const name = entry.slice(0, Math.max(at, 0)).trim();
    const value = percentDecoded(entry.slice(at + 1).trim());
    if (at < 0 || !HEADER_NAME.test(name) || value === undefined || /[\r\n\0]/.test(value)) {
      problems.push(`OTEL_EXPORTER_OTLP_HEADERS entry ${index + 1} is not name=value (skipped)`);
      return;
    }
    headers[name.toLowerCase()] = value;
  });
  return headers;
}

function percentDecoded(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
