// The peer of Cluster's end-to-end throughput benchmark: N no-op jobs added in bulk, processed by
// workers with the same total concurrency, on the same redis-server, after an untimed warm-up round of
// the same kind. Prints one JSON line.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const [port, jobs, concurrency, warmup = 0] = process.argv.slice(2).map(Number);
// BullMQ wants its own connections: workers block, queues do not; maxRetriesPerRequest null as it documents.
const clients = [];
const client = () => { const c = new IORedis({ host: '127.0.0.1', port, maxRetriesPerRequest: null }); clients.push(c); return c; };
const name = `bench-${Date.now()}`;
const queue = new Queue(name, { connection: client() });
let round = null;
const worker = new Worker(name, async () => ({ ok: true }), { connection: client(), concurrency });
worker.on('completed', () => { if (++round.completed === round.jobs) round.resolve(); });

async function runRound(count) {
  const done = new Promise((resolve) => { round = { jobs: count, completed: 0, resolve }; });
  for (let i = 0; i < count; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({ name: 'noop', data: { n: i + k } }));
    await queue.addBulk(batch);
  }
  await done;
}

if (warmup > 0) await runRound(warmup);
const started = process.hrtime.bigint();
await runRound(jobs);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ jobs, seconds, jobsPerSecond: jobs / seconds }));
await worker.close();
await queue.obliterate({ force: true });
await queue.close();
// Connections handed to BullMQ stay open until their owner closes them.
await Promise.all(clients.map((c) => c.quit()));
