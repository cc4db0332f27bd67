// Preloaded into Portkey's Node server (`node --import`): its start-server.js listens on every
// interface at a fixed port. This makes it listen on 127.0.0.1 at a free port and report the port to
// bench/run.ts over IPC, without touching Portkey's own code.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = typeof args.at(-1) === 'function' ? args.pop() : undefined;
  this.once('listening', () => process.send?.({ port: this.address().port }));
  return listen.call(this, 0, '127.0.0.1', callback);
};
