import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { postJson } from '../helpers/env';
import { CHAT, faultyUpstream, freshKeys, multiKeyEnv, openaiError } from '../helpers/upstreams';

// The isolate's reports to the shared KeyHealth object are writes to its storage: in workerd, one still
// in flight as the handler returns its Response holds back the dispatch of the next requests
// (src/turn.ts), so a report is started on a later turn of the event loop than the answer's.

afterEach(() => vi.restoreAllMocks());

describe('key health reports', () => {
  it('a failure that ends in an error answer is reported once that answer was handed back', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const objects = env.KEY_HEALTH;
    const reports: { afterAnswer: boolean }[] = [];
    let answered = false;
    const watched = {
      idFromName: (name: string) => objects.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = objects.get(id);
        return {
          view: () => stub.view(),
          report: (...args: Parameters<typeof stub.report>) => stub.report(...args),
          failed: (...args: Parameters<typeof stub.failed>) => {
            reports.push({ afterAnswer: answered });
            return stub.failed(...args);
          },
        };
      },
    } as unknown as Bindings['KEY_HEALTH'];
    faultyUpstream(() => openaiError(500));
    const res = await app.request('/groq/v1/chat/completions', postJson(CHAT), { ...env, KEY_HEALTH: watched });
    answered = true;
    expect(res.status).toBe(500);
    await vi.waitFor(() => expect(reports).toHaveLength(1));
    expect(reports).toEqual([{ afterAnswer: true }]);
  });
});
