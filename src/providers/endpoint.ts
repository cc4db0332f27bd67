// No imports: the vault editor bundles this for the browser too.

const OPERATION_SUFFIX = /\/(chat\/completions|completions|embeddings|messages|models|images\/generations|audio\/[a-z]+|moderations|responses)\/?$/;

/** The provider's API base, with a full operation URL reduced to its base and no trailing slash. */
export function endpointBase(endpoint: string): string {
  return endpoint.replace(OPERATION_SUFFIX, '').replace(/\/+$/, '');
}
