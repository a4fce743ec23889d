// The peer of Cluster's end-to-end throughput benchmark: N no-op jobs added in bulk, processed by
// workers with the same total concurrency, on the same redis-server. Prints one JSON line.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const [port, jobs, concurrency] = process.argv.slice(2).map(Number);
// BullMQ wants its own connections: workers block, queues do not; maxRetriesPerRequest null as it documents.
const clients = [];
const client = () => { const c = new IORedis({ host: '127.0.0.1', port, maxRetriesPerRequest: null }); clients.push(c); return c; };
const name = `bench-${Date.now()}`;
const queue = new Queue(name, { connection: client() });
let completed = 0;
let resolveDone;
const done = new Promise((resolve) => { resolveDone = resolve; });
const worker = new Worker(name, async () => ({ ok: true }), { connection: client(), concurrency, autorun: false });
worker.on('completed', () => { if (++completed === jobs) resolveDone(); });

const started = process.hrtime.bigint();
for (let i = 0; i < jobs; i += 1000) {
  const batch = Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name: 'noop', data: { n: i + k } }));
  await queue.addBulk(batch);
}
worker.run();
await done;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ jobs, seconds, jobsPerSecond: jobs / seconds }));
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
// Connections handed to BullMQ stay open until their owner closes them.
await Promise.all(clients.map((c) => c.quit()));
