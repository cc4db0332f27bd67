// The gateway as a caller far from its users' Durable Objects would see it: every call to a user's
// object (USER_METER: leases, settles, usage reads) answers FAR_OBJECT_MS later, as across an ocean.
// Only the bench loads this module, around the dry-run bundle (bench/workers.ts): the gateway itself
// has no such setting.
import gateway from './index.js';

export * from './index.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A namespace whose stubs wait `ms` before each call. */
function far(namespace, ms) {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get: (id) => {
      const stub = namespace.get(id);
      return new Proxy(stub, {
        get(target, property) {
          if (typeof target[property] !== 'function') return target[property];
          // Called on the stub itself: on an RPC method, `.apply` would be a remote call of its own.
          return async (...args) => {
            await sleep(ms);
            return target[property](...args);
          };
        },
      });
    },
  };
}

// One wrapped env per env object: the gateway keeps per-isolate state (leases, settings) by it.
const wrapped = new WeakMap();
function farEnv(env) {
  let out = wrapped.get(env);
  if (!out) wrapped.set(env, (out = { ...env, USER_METER: far(env.USER_METER, Number(env.FAR_OBJECT_MS)) }));
  return out;
}

export default {
  fetch: (request, env, ctx) => gateway.fetch(request, farEnv(env), ctx),
};
