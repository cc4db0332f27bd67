// The Gemini-protocol door's model list in Google's Model shape: every chat model the user may use,
// named `models/<provider>/<model>` like the unified ids, with the methods the door answers for it.

export interface ListedModel {
  /** The unified id, `provider/model`. */
  id: string;
  inputTokenLimit: number | null;
  outputTokenLimit: number | null;
  countsTokens: boolean;
}

export function geminiModelEntry(model: ListedModel) {
  return {
    name: `models/${model.id}`,
    version: '',
    displayName: model.id,
    ...(model.inputTokenLimit === null ? {} : { inputTokenLimit: model.inputTokenLimit }),
    ...(model.outputTokenLimit === null ? {} : { outputTokenLimit: model.outputTokenLimit }),
    supportedGenerationMethods: ['generateContent', 'streamGenerateContent', ...(model.countsTokens ? ['countTokens'] : [])],
  };
}

/** Google's default and largest page sizes for models.list. */
const PAGE_SIZE = { default: 50, max: 1000 };

/** One page of the list; `pageToken` is the position of the page's first model. */
export function modelPage<T>(models: T[], pageSize: string | undefined, pageToken: string | undefined) {
  const size = Math.min(Math.max(Number(pageSize) || PAGE_SIZE.default, 1), PAGE_SIZE.max);
  const start = Math.max(Number(pageToken) || 0, 0);
  const next = start + size;
  return { models: models.slice(start, next), ...(next < models.length ? { nextPageToken: String(next) } : {}) };
}
