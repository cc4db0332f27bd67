// `npx tsx bench/heap.ts [--blocks N] [--seconds S]`: whether the gateway's isolate keeps what its
// requests leave behind. N blocks of S seconds of JSON requests at concurrency 32 (the bench user:
// auth, a lease, a usage record per request); after each, the isolate's JavaScript heap after a full
// collection (a heap snapshot forces one: workerd's inspector does not take HeapProfiler.collectGarbage),
// beside the workerd process's resident memory. On Cloudflare an isolate may use 128 MB.
import { join } from 'node:path';
import { numberOption } from './args';
import { BENCH_USER_KEY, CONCURRENCY, JSON_BODY } from './config';
import { inspect, runWithWebSocket } from './inspector';
import { rssMiB } from './proc';
import { forkChild, LoadClient, TS_EXEC_ARGV } from './processes';
import { benchVault, buildGateway, GATEWAY_WORKER, startGateway, TOOL_ENV } from './workers';

runWithWebSocket();
Object.assign(process.env, TOOL_ENV);

const blocks = numberOption('--blocks', 4);
const seconds = numberOption('--seconds', 25);
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const bundle = await buildGateway(join(new URL('.', import.meta.url).pathname, '.tmp/build-heap'));
const upstream = await forkChild(new URL('./upstream.ts', import.meta.url).pathname, [], { execArgv: TS_EXEC_ARGV });
const load = await LoadClient.start();
const gateway = await startGateway(bundle, await benchVault(`http://127.0.0.1:${upstream.hello.port}`), { inspectorPort: 0 });
try {
  const cdp = await inspect(new URL(`/core:user:${GATEWAY_WORKER}`, await gateway.mf.getInspectorURL()).href);
  const target = { url: `${gateway.url}/openai/v1/chat/completions`, headers: { authorization: `Bearer ${BENCH_USER_KEY}` }, body: JSON_BODY };
  let requests = 0;
  const reading = async () => {
    // The snapshot's chunks arrive as events nobody listens to: only the collection it forces is wanted.
    await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    const heap = await cdp.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage');
    console.log(
      `${String(requests).padStart(9)} requests: heap used ${mib(heap.usedSize)} MiB (of ${mib(heap.totalSize)}), workerd RSS ${rssMiB(gateway.pid).toFixed(1)} MiB`,
    );
  };
  await reading();
  for (let block = 0; block < blocks; block++) {
    const result = await load.run({ op: 'json', connections: CONCURRENCY, requests: 1_000_000, seconds, ...target });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`block ${block + 1}: ${JSON.stringify(result)}`);
    requests += result.requests;
    // Settles and the object's flush to D1 run after the answers.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await reading();
  }
  cdp.close();
} finally {
  await gateway.dispose();
  await load.stop();
  await upstream.stop();
}
