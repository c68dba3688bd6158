// Calls Score, ScoreBatch and ScoreStream on an eduscore server with @grpc/grpc-js, loading the
// service from proto/ at run time. Reads a JSON array of {id, code} on stdin; prints
// {"unary": [...], "batch": [...], "stream": [...]} with the scores of each call.
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, protoRoot] = process.argv.slice(2);
const def = protoLoader.loadSync(path.join(protoRoot, 'eduscore/v1/eduscore.proto'), {
  includeDirs: [protoRoot], keepCase: true, longs: Number, defaults: true,
});
const { EduScorer } = grpc.loadPackageDefinition(def).eduscore.v1;
const client = new EduScorer(address, grpc.credentials.createInsecure());
const deadline = () => new Date(Date.now() + 60000);

function unary(snippet) {
  return new Promise((resolve, reject) => client.Score({ snippet }, { deadline: deadline() },
    (err, res) => (err ? reject(err) : resolve(res))));
}

function batch(snippets) {
  return new Promise((resolve, reject) => client.ScoreBatch({ snippets },
    { deadline: deadline() }, (err, res) => (err ? reject(err) : resolve(res.results))));
}

function stream(snippets) {
  return new Promise((resolve, reject) => {
    const out = [];
    const call = client.ScoreStream({ deadline: deadline() });
    call.on('data', (r) => out.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(out));
    for (const snippet of snippets) call.write({ snippet });
    call.end();
  });
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const snippets = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const pick = (r) => ({ id: r.id, score: r.score, keep: r.keep, label: r.label });
  const out = {
    unary: [],
    batch: (await batch(snippets)).map(pick),
    stream: (await stream(snippets)).map(pick),
  };
  for (const s of snippets) out.unary.push(pick(await unary(s)));
  let invalid = null;
  try { await unary({ id: 'e', code: '' }); } catch (err) { invalid = err.code; }
  out.invalid_code = invalid;  // grpc.status.INVALID_ARGUMENT === 3
  process.stdout.write(JSON.stringify(out));
  client.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
