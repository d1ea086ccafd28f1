#!/usr/bin/env node
// Greedy generation with transformers.js (@huggingface/transformers, CPU
// onnxruntime-node) on a painters model folder, offline.
//
//   node scripts/clients/tjs_generate.mjs DIR --ids 1,2,3 --new N
//
// DIR holds config.json and either model.onnx or onnx/model.onnx (the
// Hugging Face Hub layout transformers.js defaults to; a flat folder is loaded
// with `subfolder: ''`). Prints one JSON line:
//   {"cached": [...], "recomputed": [...]}
// cached:     model.generate() with its KV cache (prefill, then one token a
//             step, past_key_values.* fed back from present.*); greedy, no EOS
//             stop, exactly N tokens.
// recomputed: at each step a forward over the whole sequence with an empty
//             past (what transformers.js builds from config.json and the
//             graph's input shapes), argmax of the last position's logits.
import fs from 'node:fs';
import path from 'node:path';
import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';

function usage(msg) {
    process.stderr.write(`tjs_generate: ${msg}\nusage: tjs_generate.mjs DIR --ids 1,2,3 --new N\n`);
    process.exit(2);
}

function parseArgs(argv) {
    let dir = null;
    let ids = null;
    let n = null;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--ids') ids = argv[++i];
        else if (a === '--new') n = argv[++i];
        else if (a.startsWith('--')) usage(`unknown option ${a}`);
        else if (dir === null) dir = a;
        else usage(`unexpected argument ${a}`);
    }
    if (dir === null || ids == null || n == null) usage('DIR, --ids and --new are required');
    const prompt = ids.split(',').map((s) => {
        if (!/^\d+$/.test(s.trim())) usage(`bad token id '${s}'`);
        return BigInt(s.trim());
    });
    if (!/^\d+$/.test(n)) usage(`bad --new '${n}'`);
    return { dir: path.resolve(dir), prompt, n: Number(n) };
}

function argmaxLast(logits) {
    // logits: [1, seq, vocab]
    const [, seq, vocab] = logits.dims;
    const data = logits.data;
    const off = (seq - 1) * vocab;
    let best = 0;
    for (let v = 1; v < vocab; v++) if (data[off + v] > data[off + best]) best = v; // first on ties
    return best;
}

const { dir, prompt, n } = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(dir, 'config.json'))) usage(`${dir}: no config.json`);
const subfolder = fs.existsSync(path.join(dir, 'onnx', 'model.onnx')) ? 'onnx' : '';
if (!fs.existsSync(path.join(dir, subfolder, 'model.onnx'))) usage(`${dir}: no model.onnx or onnx/model.onnx`);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;
env.useFSCache = false;
if (env.backends?.onnx) env.backends.onnx.logLevel = 'error';

const model = await AutoModelForCausalLM.from_pretrained(dir, {
    local_files_only: true,
    subfolder,
    dtype: 'fp32',
    device: 'cpu',
});

const mk = (ids) => ({
    input_ids: new Tensor('int64', BigInt64Array.from(ids), [1, ids.length]),
    attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
});

// With the cache: transformers.js's own generation loop.
const out = await model.generate({
    ...mk(prompt),
    max_new_tokens: n,
    min_new_tokens: 0,
    do_sample: false,
    num_beams: 1,
    eos_token_id: [],
    pad_token_id: 0,
});
const cached = Array.from(out.data.slice(prompt.length), Number);

// Recomputation: whole sequence, empty past, every step.
const seq = [...prompt];
const recomputed = [];
for (let step = 0; step < n; step++) {
    const res = await model(mk(seq));
    const next = argmaxLast(res.logits);
    recomputed.push(next);
    seq.push(BigInt(next));
}

await model.dispose?.();
process.stdout.write(JSON.stringify({ cached, recomputed }) + '\n');
