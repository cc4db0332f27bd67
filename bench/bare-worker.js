// The runtime's floor (target b): a Worker that forwards each request to UPSTREAM and streams the
// answer back, doing nothing else. It runs in the same workerd, behind the same Miniflare entry and
// outbound path, with the same compatibility settings as the gateway, so the difference is the gateway.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const upstream = await fetch(`${env.UPSTREAM}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    return new Response(upstream.body, upstream);
  },
};
