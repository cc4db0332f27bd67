import type { Bindings } from '../../src/env';

// `env` from 'cloudflare:test' carries the worker's bindings.
declare global {
  namespace Cloudflare {
    interface Env extends Bindings {}
  }
}
