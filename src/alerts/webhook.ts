import type { Alert } from './alert';

// One alert as a webhook post (README, "Alerts"): Slack-compatible JSON (`text`, `blocks`) with the
// machine-readable `alert`, signed like Stripe's webhooks: `X-Switchyard-Signature: t=<unix s>,v1=<hex>`,
// the HMAC-SHA256 of `<t>.<body>` under ALERT_WEBHOOK_SECRET, so a receiver can check who sent it and
// refuse replays of old posts. Only the configured URL is fetched: redirects are not followed.

export const SIGNATURE_HEADER = 'X-Switchyard-Signature';
export const ALERT_KEY_HEADER = 'X-Switchyard-Alert-Key';
/** A webhook that has not answered by then counts as failed (the post is tried again later). */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Slack's mrkdwn control characters, escaped as Slack asks. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const usd = (value: number) => `${Number(value.toFixed(value < 1 ? 4 : 2))} USD`;
const count = (value: number) => Math.round(value).toLocaleString('en-US');

/** The alert in one line, for people. */
export function alertText(alert: Alert): string {
  switch (alert.kind) {
    case 'budget': {
      const what =
        alert.budget === 'monthlyBudgetUsd'
          ? `the monthly budget (${usd(alert.used)} of ${usd(alert.limit)}, ${alert.period})`
          : `the daily token allowance (${count(alert.used)} of ${count(alert.limit)} tokens, ${alert.period})`;
      return `User *${escape(alert.user.name)}* has used ${alert.threshold} % of ${what}.`;
    }
    case 'key_rejected':
      return `Provider *${escape(alert.provider)}* rejected a key (HTTP ${alert.status}, ${escape(alert.reason)}; key SHA-256 ${alert.keyId}…): it rests and the other keys are used.`;
    case 'provider_failing':
      return `Provider *${escape(alert.provider)}* has been failing for ${alert.minutes} min (${alert.failures} failures since ${alert.since}, last: ${escape(alert.lastReason)}).`;
    case 'daily_spend':
      return `Today's spend is ${usd(alert.spentUsd)}, at or above the alert threshold of ${usd(alert.thresholdUsd)} (${alert.day}, UTC).`;
  }
}

/** The post's body: what Slack shows, and the alert itself for any other receiver. */
export function webhookBody(alert: Alert): string {
  const text = `Switchyard: ${alertText(alert)}`;
  return JSON.stringify({
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${alert.kind} · ${escape(alert.key)} · ${alert.time}` }] },
    ],
    alert,
  });
}

const encoder = new TextEncoder();

/** Hex HMAC-SHA256 of `<t>.<body>`. */
export async function signatureOf(secret: string, t: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${t}.${body}`)));
  return Array.from(mac, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** An error text without the webhook's URL or path (where Slack's secret is). */
function scrub(text: string, url: string): string {
  const { pathname } = new URL(url);
  const scrubbed = text.replaceAll(url, 'ALERT_WEBHOOK_URL');
  return pathname.length > 1 ? scrubbed.replaceAll(pathname, '/…') : scrubbed;
}

export interface Webhook {
  url: string;
  secret?: string;
}

/** Post one alert. Resolves with why it failed (never the URL: a Slack webhook URL is a secret), or undefined once the webhook took it. */
export async function postAlert(webhook: Webhook, alert: Alert, now = Date.now()): Promise<string | undefined> {
  const body = webhookBody(alert);
  const headers: Record<string, string> = { 'content-type': 'application/json', [ALERT_KEY_HEADER]: alert.key };
  if (webhook.secret) {
    const t = Math.floor(now / 1000);
    headers[SIGNATURE_HEADER] = `t=${t},v1=${await signatureOf(webhook.secret, t, body)}`;
  }
  try {
    const res = await fetch(webhook.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return undefined;
    return res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirects are not followed)` : `HTTP ${res.status}`;
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`;
    return `network error: ${scrub(err instanceof Error ? err.message : String(err), webhook.url)}`;
  }
}
