#!/usr/bin/env python3
"""Build the ONNX test fixtures under tests/fixtures/.

Run with the system interpreter:

    python3 scripts/make_fixtures.py            # (re)build every fixture
    python3 scripts/make_fixtures.py bert-dynamo llama-anon   # only these
    python3 scripts/make_fixtures.py --readme-only [NAME ...]  # only <fixture>/README.md

On first use it creates the git-ignored virtual env `.venv-fixtures/` at the
repository root, installs the pinned `scripts/requirements-fixtures.txt` into
it (torch from PyPI pulls several GB of CUDA wheels; it runs on CPU) and
re-executes itself inside that env.

Every model is built from a config with random weights (nothing is fetched
from a model hub), seeded per fixture, exported, and then checked: onnxruntime
on `model.onnx` must reproduce `reference.json` within 1e-4 (absolute).

Each fixture folder gets a README.md naming the generator function, the tool and its
version, the command that rebuilds just that fixture and its key facts (written from the
spec and `expected.json`: `--readme-only` rewrites them without exporting anything);
tests/fixtures/README.md describes them all (graph facts measured on the files).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-fixtures"
REQUIREMENTS = ROOT / "scripts" / "requirements-fixtures.txt"
FIXTURES = ROOT / "tests" / "fixtures"
TOLERANCE = 1e-4


def bootstrap():
    """Create/refresh the venv and re-exec this script inside it."""
    if os.environ.get("PAINTERS_FIXTURES_IN_VENV") == "1":
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"[fixtures] creating {VENV}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    # keep the env out of git even without a .gitignore entry at the root
    (VENV / ".gitignore").write_text("*\n")
    stamp = VENV / ".requirements-installed"
    wanted = REQUIREMENTS.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"[fixtures] pip install -r {REQUIREMENTS} (slow the first time)", flush=True)
        subprocess.check_call([str(py), "-m", "pip", "install", "-r", str(REQUIREMENTS)])
        stamp.write_text(wanted)
    env = dict(os.environ, PAINTERS_FIXTURES_IN_VENV="1", PYTHONHASHSEED="0",
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TRANSFORMERS_VERBOSITY="error", TF_CPP_MIN_LOG_LEVEL="3")
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]], env)


if __name__ == "__main__":
    bootstrap()

# ---------------------------------------------------------------------------
# Everything below runs inside the venv.
# ---------------------------------------------------------------------------
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from painters_ref import tensor_from_json, tensor_json, tensors_from_json  # noqa: E402

warnings.filterwarnings("ignore")

VOCAB = 256
HIDDEN = 32
INTERMEDIATE = 64
HEADS = 4
KV_HEADS = 2
MAX_POS = 128
BATCH = 2
SEQ = 7
PAST = 3

CORPUS = """
The painter stood before the long wall of the old station and counted the layers of paint.
Under the grey there was a green, under the green a pale yellow, and under the yellow a
deep red that nobody in the town remembered. Each owner had covered the work of the one
before, and each had believed that the wall was finished.

A model is built the same way. The first layer reads the words and turns them into numbers;
every later layer reads the numbers that the layer before it wrote, adds a little of its own,
and passes the sum along the stream. Take one layer away and the picture changes; paint the
same layer twice and some colours grow stronger while others fade.

In the morning the market opens early. Farmers bring apples, pears, onions and bread, and the
children run between the stalls asking for a taste of honey. By noon the square is loud with
voices, and by evening it is quiet again, swept clean for the next day.

She wrote a short letter to her brother: the weather has been kind, the river is high, the
garden is full of beans and the cat sleeps on the warm stones by the door. Come in the
summer if you can, and bring the blue book you promised to lend me last year.

Numbers, names and small words: one, two, three, four, five, six, seven, eight, nine, ten.
The quick brown fox jumps over the lazy dog while the five boxing wizards jump quickly.
"""


def corpus_lines():
    return [line.strip() for line in CORPUS.strip().splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------
DECODER_SPECIALS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]  # ids 0..4
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4


def make_decoder_tokenizer():
    """Byte-level BPE whose alphabet is only the bytes seen in CORPUS, so that
    specials + alphabet + merges fit exactly in VOCAB ids. Unseen bytes map to <unk>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=DECODER_SPECIALS,
                                  initial_alphabet=[], show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    assert [tok.token_to_id(t) for t in DECODER_SPECIALS] == [0, 1, 2]
    return tok, dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def make_wordpiece_tokenizer(roberta=False):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ROBERTA_SPECIALS if roberta else BERT_SPECIALS
    unk = "<unk>" if roberta else "[UNK]"
    normalizer = normalizers.BertNormalizer(lowercase=True, clean_text=True,
                                            handle_chinese_chars=True, strip_accents=None)
    pre = pre_tokenizers.BertPreTokenizer()
    # The tokenizers WordPieceTrainer is not deterministic (ties ordered by hash maps), so
    # the vocab is built here: specials, every character seen (alone and as "##c"), then
    # the most frequent words (ties by spelling), then "##word" pieces, until VOCAB entries.
    counts = {}
    for line in corpus_lines():
        for word, _ in pre.pre_tokenize_str(normalizer.normalize_str(line)):
            counts[word] = counts.get(word, 0) + 1
    chars = sorted({c for w in counts for c in w})
    vocab = list(specials) + chars + ["##" + c for c in chars]
    by_freq = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    # whole words first, then the same words as continuation pieces ("##word")
    for piece in by_freq + ["##" + w for w in by_freq if len(w) > 1]:
        if len(vocab) >= VOCAB:
            break
        if piece not in vocab:
            vocab.append(piece)
    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token=unk,
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(specials)
    ids = {t: tok.token_to_id(t) for t in specials}
    assert list(ids.values()) == list(range(len(specials))), ids
    if roberta:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", 0), ("</s>", 2)])
        extra = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                     pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    else:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        extra = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                     unk_token="[UNK]", mask_token="[MASK]")
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    return tok, extra


def save_tokenizer(tok, special_kwargs, out_dir):
    """Writes tokenizer.json and tokenizer_config.json into out_dir."""
    from transformers import PreTrainedTokenizerFast

    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_POS,
                                     **special_kwargs)
    hf_tok.save_pretrained(str(out_dir))
    for extra in ("special_tokens_map.json",):
        p = Path(out_dir) / extra
        if p.exists():
            p.unlink()
    # the Rust crate must load it
    from tokenizers import Tokenizer
    reloaded = Tokenizer.from_file(str(Path(out_dir) / "tokenizer.json"))
    enc = reloaded.encode("The painter counted the layers of paint.")
    assert all(0 <= i < VOCAB for i in enc.ids), enc.ids


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def decoder_config(kind, layers):
    import transformers as T

    common = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                  num_hidden_layers=layers, num_attention_heads=HEADS,
                  num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POS,
                  bos_token_id=1, eos_token_id=2, pad_token_id=None,
                  initializer_range=0.1, torch_dtype="float32")
    if kind == "llama":
        return T.LlamaConfig(**common, tie_word_embeddings=True, rms_norm_eps=1e-5), T.LlamaForCausalLM
    if kind == "qwen2":
        return T.Qwen2Config(**common, tie_word_embeddings=True, rms_norm_eps=1e-6,
                             use_sliding_window=False), T.Qwen2ForCausalLM
    if kind == "mistral":
        return T.MistralConfig(**common, tie_word_embeddings=False, rms_norm_eps=1e-5,
                               sliding_window=None), T.MistralForCausalLM
    if kind == "gemma":
        return T.GemmaConfig(**common, head_dim=HIDDEN // HEADS, tie_word_embeddings=True,
                             rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh"), T.GemmaForCausalLM
    raise ValueError(kind)


def encoder_config(kind, layers):
    import transformers as T

    if kind == "bert":
        return T.BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                            num_hidden_layers=layers, num_attention_heads=HEADS,
                            max_position_embeddings=MAX_POS, type_vocab_size=2,
                            pad_token_id=0, initializer_range=0.1,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                            torch_dtype="float32"), T.BertModel
    if kind == "roberta":
        return T.RobertaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                               num_hidden_layers=layers, num_attention_heads=HEADS,
                               max_position_embeddings=MAX_POS + 2, type_vocab_size=1,
                               pad_token_id=1, bos_token_id=0, eos_token_id=2,
                               initializer_range=0.1, hidden_dropout_prob=0.0,
                               attention_probs_dropout_prob=0.0, torch_dtype="float32"), T.RobertaModel
    if kind == "distilbert":
        return T.DistilBertConfig(vocab_size=VOCAB, dim=HIDDEN, hidden_dim=INTERMEDIATE,
                                  n_layers=layers, n_heads=HEADS, max_position_embeddings=MAX_POS,
                                  pad_token_id=0, initializer_range=0.1, dropout=0.0,
                                  attention_dropout=0.0, torch_dtype="float32"), T.DistilBertModel
    raise ValueError(kind)


def build_model(spec):
    import torch

    torch.manual_seed(spec["seed"])
    if spec["family"] == "decoder":
        config, cls = decoder_config(spec["model_type"], spec["layers"])
    else:
        config, cls = encoder_config(spec["model_type"], spec["layers"])
    config._attn_implementation = "eager"
    kwargs = {}
    if spec.get("no_pooler"):
        kwargs["add_pooling_layer"] = False
    model = cls(config, **kwargs).eval()
    # Norm scales are 1 and biases 0 after init: perturb every 1-D parameter so that
    # blocks, norms and biases are all distinguishable (a swapped layer must show).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if name.endswith("bias"):
                    p.add_(0.05 * torch.randn_like(p))
                elif not p.any():  # Gemma's RMSNorm scales by (1 + weight), weight init 0
                    p.add_(0.2 * torch.randn_like(p))
                else:
                    p.mul_(1.0 + 0.2 * torch.randn_like(p))
    return model


def save_hf(model, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    gen = out_dir / "generation_config.json"
    if gen.exists():
        gen.unlink()


# ---------------------------------------------------------------------------
# Exporters
# ---------------------------------------------------------------------------
def export_optimum(model, tok, tok_kwargs, task, out_path):
    from optimum.exporters.onnx import main_export

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        dst = Path(tmp) / "onnx"
        save_hf(model, src)
        save_tokenizer(tok, tok_kwargs, src)
        main_export(str(src), output=str(dst), task=task, library_name="transformers",
                    device="cpu", do_validation=False, no_post_process=True)
        onnx_files = sorted(p.name for p in dst.iterdir() if p.suffix == ".onnx")
        assert onnx_files == ["model.onnx"], onnx_files
        extras = [p.name for p in dst.iterdir() if p.name.startswith("model.onnx_data")]
        assert not extras, f"unexpected external data from optimum: {extras}"
        shutil.copyfile(dst / "model.onnx", out_path)


class traceable_masks:
    """transformers >= 4.53 builds attention masks with torch.vmap, which neither the
    TorchScript tracer nor torch.export with dynamic shapes (torch 2.9) can follow.
    Swap in optimum's vmap-free mask functions during the export, as optimum itself
    does in its model patcher; the masks are numerically identical."""

    def __enter__(self):
        import transformers.masking_utils as mu
        from optimum.exporters.onnx import model_patcher as mp

        self.saved = (mu.ALL_MASK_ATTENTION_FUNCTIONS["sdpa"], mu.ALL_MASK_ATTENTION_FUNCTIONS["eager"],
                      mu.find_packed_sequence_indices)
        mu.ALL_MASK_ATTENTION_FUNCTIONS.register("sdpa", mp.sdpa_mask_without_vmap)
        mu.ALL_MASK_ATTENTION_FUNCTIONS.register("eager", mp.eager_mask_without_vmap)
        mu.find_packed_sequence_indices = mp.find_packed_sequence_indices_patched
        return self

    def __exit__(self, *exc):
        import transformers.masking_utils as mu

        mu.ALL_MASK_ATTENTION_FUNCTIONS.register("sdpa", self.saved[0])
        mu.ALL_MASK_ATTENTION_FUNCTIONS.register("eager", self.saved[1])
        mu.find_packed_sequence_indices = self.saved[2]
        return False


def export_torchscript(model, family, out_path):
    import torch

    ids, mask, tt = example_torch_inputs(family)
    model.config.use_cache = False  # restored by the caller's copy of config.json
    if family == "decoder":
        args = (ids, mask)
        input_names = ["input_ids", "attention_mask"]
        output_names = ["logits"]
    else:
        args = (ids, mask, tt)
        input_names = ["input_ids", "attention_mask", "token_type_ids"]
        output_names = ["last_hidden_state"]
    axes = {n: {0: "batch_size", 1: "sequence_length"} for n in input_names + output_names}
    # Traced positionally, LlamaForCausalLM.forward picks up a stray scalar graph input
    # (`onnx::Gather_2`). Pin the signature on the instance, as optimum's patcher does;
    # the module tree, hence the node names, stays the same.
    original_forward = model.forward

    def forward(*inputs):
        kwargs = dict(zip(input_names, inputs))
        if family == "decoder":
            kwargs["use_cache"] = False
        out = original_forward(**kwargs, return_dict=True)
        return tuple(getattr(out, n) for n in output_names)

    model.forward = forward
    try:
        with torch.no_grad(), traceable_masks():
            torch.onnx.export(model, args, str(out_path), input_names=input_names,
                              output_names=output_names, dynamic_axes=axes, opset_version=17,
                              do_constant_folding=True, dynamo=False)
    finally:
        del model.forward


def export_dynamo(model, family, out_path):
    import onnx
    import torch

    ids, mask, tt = example_torch_inputs(family)
    model.config.use_cache = False
    batch = torch.export.Dim("batch_size", min=1, max=64)
    seq = torch.export.Dim("sequence_length", min=2, max=MAX_POS - 1)
    dims = {0: batch, 1: seq}
    if family == "decoder":
        args = (ids, mask)
        input_names = ["input_ids", "attention_mask"]
        output_names = ["logits"]
    else:
        args = (ids, mask, tt)
        input_names = ["input_ids", "attention_mask", "token_type_ids"]
        output_names = ["last_hidden_state"]
    dynamic_shapes = tuple(dims for _ in args)
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        with torch.no_grad(), traceable_masks():
            torch.onnx.export(model, args, str(tmp_path), input_names=input_names,
                              output_names=output_names, dynamic_shapes=dynamic_shapes,
                              dynamo=True, external_data=True, verbose=False)
        written = sorted(p.name for p in Path(tmp).iterdir())
        # The exporter puts only tensors above a size threshold into model.onnx.data (here:
        # the 2-D weights), 1-D norm weights and biases stay inline. Re-save so that every
        # floating-point tensor of rank >= 1 is external. Integer/bool tensors and scalars
        # stay inline: onnxruntime's shape inference must read them (axes, shapes) and
        # fails with "Cannot parse data from external tensors" otherwise. Node
        # metadata_props are untouched by load/save.
        from onnx.external_data_helper import convert_model_to_external_data

        m = onnx.load(str(tmp_path), load_external_data=True)
        convert_model_to_external_data(m, all_tensors_to_one_file=True, location="model.onnx.data",
                                       size_threshold=0, convert_attribute=False)
        floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
                  onnx.TensorProto.DOUBLE}
        for t in m.graph.initializer:
            if t.data_type not in floats or len(t.dims) == 0:
                del t.external_data[:]
                t.data_location = onnx.TensorProto.DEFAULT
        for p in (out_path, out_path.with_name("model.onnx.data")):
            if p.exists():
                p.unlink()
        onnx.save(m, str(out_path))
    return written


def example_torch_inputs(family):
    """Export-time example inputs (batch 2, sequence 5: different from the reference shape)."""
    import torch

    g = torch.Generator().manual_seed(1234)
    ids = torch.randint(5, VOCAB, (2, 5), generator=g, dtype=torch.int64)
    mask = torch.ones(2, 5, dtype=torch.int64)
    tt = torch.zeros(2, 5, dtype=torch.int64)
    return ids, mask, tt


# ---------------------------------------------------------------------------
# Graph surgery
# ---------------------------------------------------------------------------
def anonymize(model):
    """Rename nodes n{k}, intermediate tensors t{k}, initializers w{k}; drop node
    metadata_props and doc strings. Graph inputs/outputs keep their names."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    mapping = {}
    for k, init in enumerate(g.initializer):
        if init.name not in keep:
            mapping[init.name] = f"w{k}"
    counter = [0]

    def collect(graph):
        for node in graph.node:
            for out in node.output:
                if out and out not in keep and out not in mapping:
                    mapping[out] = f"t{counter[0]}"
                    counter[0] += 1
            for attr in node.attribute:
                for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                    collect(sub)

    collect(g)
    node_counter = [0]

    def rewrite(graph):
        for node in graph.node:
            node.name = f"n{node_counter[0]}"
            node_counter[0] += 1
            node.doc_string = ""
            del node.metadata_props[:]
            for i, name in enumerate(node.input):
                if name in mapping:
                    node.input[i] = mapping[name]
            for i, name in enumerate(node.output):
                if name in mapping:
                    node.output[i] = mapping[name]
            for attr in node.attribute:
                for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                    for v in list(sub.input) + list(sub.output) + list(sub.value_info):
                        if v.name in mapping:
                            v.name = mapping[v.name]
                    for t in sub.initializer:
                        if t.name in mapping:
                            t.name = mapping[t.name]
                    rewrite(sub)
        for t in graph.initializer:
            if t.name in mapping:
                t.name = mapping[t.name]
        for v in graph.value_info:
            if v.name in mapping:
                v.name = mapping[v.name]
            v.doc_string = ""
            del v.metadata_props[:]
        graph.doc_string = ""
        del graph.metadata_props[:]

    rewrite(g)
    model.doc_string = ""
    return model


# ---------------------------------------------------------------------------
# Reference inputs/outputs
# ---------------------------------------------------------------------------
def onnx_io(path):
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    inputs = [v.name for v in m.graph.input if v.name not in inits]
    outputs = [v.name for v in m.graph.output]
    return inputs, outputs


def token_ids(rng, n):
    return rng.integers(5, VOCAB, size=n).astype(np.int64)


def make_feeds(spec, input_names, model):
    """Batch 2, sequence 7. Encoders: right padding on row 2 (last 2 positions).
    Decoders: all-ones masks; with past: a real 3-token cache from PyTorch."""
    import torch

    rng = np.random.default_rng(spec["seed"] + 1000)
    feeds = {}
    if spec["family"] == "encoder":
        if spec["model_type"] == "roberta":
            cls_id, sep_id, pad_id = 0, 2, 1
        else:
            cls_id, sep_id, pad_id = 2, 3, 0
        row0 = np.concatenate([[cls_id], token_ids(rng, SEQ - 2), [sep_id]])
        row1 = np.concatenate([[cls_id], token_ids(rng, SEQ - 4), [sep_id], [pad_id, pad_id]])
        ids = np.stack([row0, row1]).astype(np.int64)
        mask = np.ones((BATCH, SEQ), dtype=np.int64)
        mask[1, -2:] = 0
        feeds["input_ids"] = ids
        feeds["attention_mask"] = mask
        feeds["token_type_ids"] = np.zeros((BATCH, SEQ), dtype=np.int64)
        feeds["position_ids"] = np.tile(np.arange(SEQ, dtype=np.int64), (BATCH, 1))
    else:
        past = PAST if spec["with_past"] else 0
        ids = np.stack([np.concatenate([[1], token_ids(rng, SEQ - 1)]) if not past
                        else token_ids(rng, SEQ) for _ in range(BATCH)]).astype(np.int64)
        feeds["input_ids"] = ids
        feeds["attention_mask"] = np.ones((BATCH, past + SEQ), dtype=np.int64)
        feeds["position_ids"] = np.tile(np.arange(past, past + SEQ, dtype=np.int64), (BATCH, 1))
        if past:
            prefix = np.stack([np.concatenate([[1], token_ids(rng, PAST - 1)])
                               for _ in range(BATCH)]).astype(np.int64)
            with torch.no_grad():
                out = model(input_ids=torch.from_numpy(prefix),
                            attention_mask=torch.ones(BATCH, PAST, dtype=torch.int64),
                            position_ids=torch.arange(PAST).repeat(BATCH, 1),
                            use_cache=True)
            for i, (k, v) in enumerate(cache_tensors(out.past_key_values)):
                feeds[f"past_key_values.{i}.key"] = k.numpy().copy()
                feeds[f"past_key_values.{i}.value"] = v.numpy().copy()
    missing = [n for n in input_names if n not in feeds]
    assert not missing, f"{spec['name']}: no feed for graph inputs {missing}"
    return {n: feeds[n] for n in input_names}


def cache_tensors(cache):
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v in cache]


def torch_outputs(spec, model, feeds, output_names):
    import torch
    from transformers import DynamicCache

    t = {k: torch.from_numpy(v.copy()) for k, v in feeds.items()}
    kwargs = {k: t[k] for k in ("input_ids", "attention_mask", "position_ids", "token_type_ids")
              if k in t}
    if spec["family"] == "decoder":
        if spec["with_past"]:
            cache = DynamicCache()
            for i in range(spec["layers"]):
                cache.update(t[f"past_key_values.{i}.key"], t[f"past_key_values.{i}.value"], i)
            kwargs["past_key_values"] = cache
            kwargs["use_cache"] = True
        else:
            kwargs["use_cache"] = False
    with torch.no_grad():
        out = model(**kwargs)
    result = {}
    presents = cache_tensors(out.past_key_values) if spec["with_past"] else None
    for name in output_names:
        m = re.fullmatch(r"present\.(\d+)\.(key|value)", name)
        if m:
            kv = presents[int(m.group(1))]
            result[name] = kv[0 if m.group(2) == "key" else 1]
        else:
            result[name] = getattr(out, name)
    return {k: v.detach().numpy().astype(np.float32) for k, v in result.items()}


def ort_outputs(path, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def exact_integer_diff(m, feeds, got, outputs):
    """How far onnxruntime's outputs of the quantized model `m` are from
    onnx.reference's (exact int32 MatMulInteger): the reference must not
    depend on the CPU's int8 kernels. Raises beyond TOLERANCE."""
    import copy

    from onnx.reference import ReferenceEvaluator

    m = copy.deepcopy(m)
    for o in m.opset_import:  # onnx.reference implements DequantizeLinear from opset 19
        if o.domain in ("", "ai.onnx") and o.version < 19:
            o.version = 19
    exact = dict(zip(outputs, ReferenceEvaluator(m).run(outputs, feeds)))
    worst = max(float(np.max(np.abs(got[k].astype(np.float64) - exact[k]))) for k in outputs)
    if worst > TOLERANCE:
        raise SystemExit(f"quantized fixture: onnxruntime differs from exact integer arithmetic by {worst:.3g} "
                         "(int8 kernels saturating? quantize with reduce_range=True)")
    return worst


def write_json(path, obj, compact=False):
    with open(path, "w") as f:
        if compact:
            json.dump(obj, f, separators=(",", ":"))
        else:
            json.dump(obj, f, indent=2)
        f.write("\n")


def check_against_reference(fixture_dir, reference):
    feeds = tensors_from_json(reference["inputs"])
    inputs, outputs = onnx_io(fixture_dir / "model.onnx")
    assert sorted(inputs) == sorted(reference["inputs"]), (inputs, list(reference["inputs"]))
    assert sorted(outputs) == sorted(reference["outputs"]), (outputs, list(reference["outputs"]))
    got = ort_outputs(fixture_dir / "model.onnx", feeds)
    worst = 0.0
    for name, ref in reference["outputs"].items():
        want = tensor_from_json(ref, np.float32)
        assert got[name].shape == want.shape, (name, got[name].shape, want.shape)
        worst = max(worst, float(np.max(np.abs(got[name].astype(np.float64) - want))))
    return worst


# ---------------------------------------------------------------------------
# Graph analysis (for README)
# ---------------------------------------------------------------------------
LAYER_RE = re.compile(r"(?:^|[/.:\s])(?:layers|layer|h|blocks)\.(\d+)(?=[/.:\s]|$)")


def node_layer(node):
    m = LAYER_RE.search(node.name)
    if m:
        return int(m.group(1))
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            # a list of module paths, innermost last
            found = LAYER_RE.findall(prop.value)
            if found:
                return int(found[-1])
    return None


def analyze(path):
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    g = m.graph
    producer = {}
    layer_of_tensor = {}
    for node in g.node:
        layer = node_layer(node)
        for o in node.output:
            producer[o] = node
            layer_of_tensor[o] = layer
    example = None
    for node in g.node:
        if node_layer(node) == 1 and node.op_type == "MatMul":
            example = node
            break
    if example is None:
        example = next((n for n in g.node if node_layer(n) == 1), None)
    ex_meta = {}
    if example is not None:
        ex_meta = {p.key: p.value for p in example.metadata_props}
    # tensors that depend on the residual stream: everything downstream of the token
    # embedding Gather (reading input_ids), except through Shape
    stream = set()
    for node in g.node:
        seed = node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == "input_ids"
        if seed or (node.op_type != "Shape" and any(i in stream for i in node.input)):
            stream.update(o for o in node.output if o)
    crossing = {}
    for node in g.node:
        layer = node_layer(node)
        if layer is None or layer == 0:
            continue
        for i in node.input:
            if layer_of_tensor.get(i) == 0:
                crossing.setdefault(i, set()).add(layer)
    readers = {}
    for node in g.node:
        for i in node.input:
            readers.setdefault(i, []).append(node)
    input_readers = {}
    for v in g.input:
        got = []
        for node in readers.get(v.name, []):
            layer = node_layer(node)
            where = f"layer {layer}" if layer is not None else "outside layers"
            item = f"{node.op_type} ({where})"
            if item not in got:
                got.append(item)
        input_readers[v.name] = got
    layers = {node_layer(n) for n in g.node} - {None}
    last = max(layers) if layers else None
    outputs = []
    for o in g.output:
        p = producer.get(o.name)
        outputs.append({"name": o.name, "producer": p.name if p else None,
                        "producer_op": p.op_type if p else None,
                        "producer_layer": node_layer(p) if p else None})
    return {
        "nodes": len(g.node),
        "initializers": len(g.initializer),
        "ir_version": m.ir_version,
        "opset": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "ops": sorted({n.op_type for n in g.node}),
        "example_layer1_node": example.name if example is not None else None,
        "example_layer1_meta": ex_meta,
        "first_nodes": [n.name for n in g.node[:3]],
        "example_initializers": [t.name for t in g.initializer[:4]],
        "layer0_tensors_read_later": {k: sorted(v) for k, v in sorted(crossing.items())},
        "stream_tensors": sorted(k for k in crossing if k in stream),
        "detected_layers": sorted(layers),
        "last_layer": last,
        "outputs": outputs,
        "inputs": [v.name for v in g.input],
        "input_readers": input_readers,
        "transposes_of_initializers": [n.name for n in g.node if n.op_type == "Transpose"
                                       and n.input[0] in {t.name for t in g.initializer}],
    }


# ---------------------------------------------------------------------------
# Fixture specs
# ---------------------------------------------------------------------------
SPECS = [
    dict(name="llama-optimum", family="decoder", model_type="llama", exporter="optimum",
         layers=4, with_past=False, task="text-generation", seed=101),
    dict(name="llama-optimum-past", family="decoder", model_type="llama", exporter="optimum",
         layers=4, with_past=True, task="text-generation-with-past", seed=102),
    dict(name="llama-torchscript", family="decoder", model_type="llama", exporter="torchscript",
         layers=3, with_past=False, seed=103),
    dict(name="llama-dynamo", family="decoder", model_type="llama", exporter="dynamo",
         layers=5, with_past=False, seed=104),
    dict(name="qwen2-optimum-past", family="decoder", model_type="qwen2", exporter="optimum",
         layers=3, with_past=True, task="text-generation-with-past", seed=105),
    dict(name="mistral-optimum", family="decoder", model_type="mistral", exporter="optimum",
         layers=2, with_past=False, task="text-generation", seed=106),
    dict(name="gemma-optimum", family="decoder", model_type="gemma", exporter="optimum",
         layers=3, with_past=False, task="text-generation", seed=107),
    dict(name="bert-optimum", family="encoder", model_type="bert", exporter="optimum",
         layers=4, with_past=False, task="feature-extraction", seed=108),
    dict(name="bert-torchscript", family="encoder", model_type="bert", exporter="torchscript",
         layers=2, with_past=False, seed=109, no_pooler=True),
    dict(name="bert-dynamo", family="encoder", model_type="bert", exporter="dynamo",
         layers=3, with_past=False, seed=110, no_pooler=True),
    dict(name="roberta-optimum", family="encoder", model_type="roberta", exporter="optimum",
         layers=3, with_past=False, task="feature-extraction", seed=111),
    dict(name="distilbert-optimum", family="encoder", model_type="distilbert", exporter="optimum",
         layers=5, with_past=False, task="feature-extraction", seed=112),
    dict(name="llama-anon", family="decoder", model_type="llama", exporter="optimum",
         layers=4, with_past=False, derived="anon", source="llama-optimum", seed=101),
    dict(name="llama-quant", family="decoder", model_type="llama", exporter="optimum",
         layers=6, with_past=False, task="text-generation", derived="quant", seed=114),
    dict(name="llama-optimum-extdata", family="decoder", model_type="llama", exporter="optimum",
         layers=4, with_past=False, derived="extdata", source="llama-optimum", seed=101),
]


def tokenizer_for(spec):
    if spec["family"] == "decoder":
        return make_decoder_tokenizer()
    return make_wordpiece_tokenizer(roberta=spec["model_type"] == "roberta")


def expected_json(spec, external_data, anonymous, quantized, reference_source, hf_source=None):
    e = {
        "name": spec["name"],
        "family": spec["family"],
        "model_type": spec["model_type"],
        "exporter": spec["exporter"],
        "num_blocks": spec["layers"],
        "with_past": spec["with_past"],
        "external_data": external_data,
        "anonymous": anonymous,
        "quantized": quantized,
        "hidden_size": HIDDEN,
        "vocab_size": VOCAB,
        "reference_source": reference_source,
    }
    if hf_source:
        e["hf_source"] = hf_source
    return e


def build_fixture(spec):
    import onnx

    name = spec["name"]
    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    derived = spec.get("derived")
    tok, tok_kwargs = tokenizer_for(spec)
    save_tokenizer(tok, tok_kwargs, out)
    notes = {}

    if derived in ("anon", "extdata"):
        src = FIXTURES / spec["source"]
        shutil.copyfile(src / "config.json", out / "config.json")
        m = onnx.load(str(src / "model.onnx"))
        if derived == "anon":
            anonymize(m)
            onnx.save(m, str(out / "model.onnx"))
            external = None
        else:
            onnx.save(m, str(out / "model.onnx"), save_as_external_data=True,
                      all_tensors_to_one_file=True, location="weights.bin", size_threshold=0,
                      convert_attribute=False)
            external = "weights.bin"
        ref_src = json.loads((src / "reference.json").read_text())
        feeds = tensors_from_json(ref_src["inputs"])
        got = ort_outputs(out / "model.onnx", feeds)
        reference = {"inputs": ref_src["inputs"],
                     "outputs": {k: tensor_json(got[k]) for k in ref_src["outputs"]}}
        # must stay numerically the same as the source fixture (PyTorch reference)
        vs_src = max(float(np.max(np.abs(got[k] - tensor_from_json(v, np.float32))))
                     for k, v in ref_src["outputs"].items())
        assert vs_src <= TOLERANCE, f"{name}: differs from {spec['source']} by {vs_src}"
        notes["max_abs_diff_vs_source_pytorch"] = vs_src
        write_json(out / "expected.json", expected_json(
            spec, external, derived == "anon", False, "onnxruntime", hf_source=spec["source"]))
        write_json(out / "reference.json", reference, compact=True)
        return out, notes

    model = build_model(spec)
    save_hf(model, out / "hf")
    shutil.copyfile(out / "hf" / "config.json", out / "config.json")
    external = None
    if spec["exporter"] == "optimum":
        target = out / "model.onnx"
        if derived == "quant":
            target = Path(tempfile.mkdtemp()) / "model.onnx"
        export_optimum(model, tok, tok_kwargs, spec["task"], target)
    elif spec["exporter"] == "torchscript":
        export_torchscript(model, spec["family"], out / "model.onnx")
    elif spec["exporter"] == "dynamo":
        written = export_dynamo(model, spec["family"], out / "model.onnx")
        notes["dynamo_wrote"] = written
        external = "model.onnx.data"
    else:
        raise ValueError(spec["exporter"])

    if derived == "quant":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        qdir = target.parent
        # reduce_range: 7-bit weights, so that u8 x s8 pair sums fit int16 and the
        # AVX2 kernel (which saturates them) gives what VNNI and AVX-512 give: the
        # reference is then the same on every x86 CPU (with 8 bits an AVX2-only EPYC
        # differed from the committed reference by 0.21).
        quantize_dynamic(str(target), str(qdir / "q.onnx"), weight_type=QuantType.QInt8,
                         per_channel=False, reduce_range=True)
        m = onnx.load(str(qdir / "q.onnx"))
        anonymize(m)
        onnx.save(m, str(out / "model.onnx"))
        shutil.rmtree(qdir)
        inputs, outputs = onnx_io(out / "model.onnx")
        feeds = make_feeds(spec, inputs, model)
        got = ort_outputs(out / "model.onnx", feeds)
        pt = torch_outputs(spec, model, feeds, outputs)
        notes["quantization_error_vs_pytorch"] = max(
            float(np.max(np.abs(got[k] - pt[k]))) for k in outputs)
        notes["ops"] = sorted({n.op_type for n in m.graph.node})
        notes["ort_vs_exact_integer_reference"] = exact_integer_diff(m, feeds, got, outputs)
        reference = {"inputs": {k: tensor_json(v) for k, v in feeds.items()},
                     "outputs": {k: tensor_json(got[k]) for k in outputs}}
        write_json(out / "expected.json", expected_json(spec, None, True, True, "onnxruntime"))
        write_json(out / "reference.json", reference, compact=True)
        return out, notes

    inputs, outputs = onnx_io(out / "model.onnx")
    feeds = make_feeds(spec, inputs, model)
    pt = torch_outputs(spec, model, feeds, outputs)
    reference = {"inputs": {k: tensor_json(v) for k, v in feeds.items()},
                 "outputs": {k: tensor_json(pt[k]) for k in outputs}}
    write_json(out / "expected.json", expected_json(spec, external, False, False, "pytorch"))
    write_json(out / "reference.json", reference, compact=True)
    return out, notes


# ---------------------------------------------------------------------------
# Per-fixture README (tests/fixtures/<name>/README.md)
# ---------------------------------------------------------------------------
# Written for every fixture after a build and by `--readme-only`, from the spec and the
# fixture's expected.json only (plus the installed tool versions and which references
# under tests/data/ exist), so it never needs a re-export. No Rust test lists a fixture
# folder in a way an extra README.md would change: folders are found by their
# expected.json / model.onnx, copies take model files by suffix or copy everything
# (crates/painters-run/tests/deploy.rs), and painters copies only known model-folder files.
FIXTURE_README = "README.md"
# Fixtures scripts/make_deploy_fixtures.py makes from these ones (its SOURCE_OF; it checks
# that the two agree), for the "made from this one" line.
DEPLOY_MADE_FROM = {"bert-optimum": ["bert-ortopt"],
                    "llama-optimum-past": ["llama-optimum-q4", "llama-optimum-fp16"]}


def yes_no(v):
    return "yes" if v else "no"


def fixture_readme(name, expected, script, made_by, tool, versions, reference, rebuild,
                   source=None, made_from_it=(), files=(), see_also=()):
    """The text of tests/fixtures/<name>/README.md (shared with make_deploy_fixtures.py).

    script: the generator script (`scripts/...py`); made_by: its generator chain (markdown);
    tool: the exporter or tool call; versions: {package: version}; reference: how
    reference.json was made; rebuild: [(command, comment)]; source: the fixture this one
    is made from; made_from_it: fixtures made from this one (markdown); files: lines
    about other generated files of this fixture; see_also: closing lines."""
    e = expected
    w = []
    w.append(f"# `{name}`")
    w.append("")
    w.append(f"A test fixture made by `{script}`. Everything in this folder is generated; do "
             "not edit by hand.")
    w.append(f"This README too: `python3 {script} --readme-only {name}` rewrites it from "
             "`expected.json` without exporting anything.")
    w.append("")
    w.append(f"- **Made by:** `{script}`: {made_by}")
    w.append(f"- **Tool:** {tool}")
    w.append("- **Versions:** " + ", ".join(f"`{k}=={v}`" for k, v in versions.items()))
    w.append(f"- **`reference.json`:** {reference}")
    if source:
        w.append(f"- **Made from:** the fixture `{source}` (build it first)")
    if made_from_it:
        w.append("- **Fixtures made from this one** (rebuild them after it): "
                 + ", ".join(made_from_it))
    w.append("")
    w.append("Rebuild just this fixture (from the repository root):")
    w.append("")
    w.append("```")
    width = max(len(c) for c, _ in rebuild)
    for cmd, comment in rebuild:
        w.append(f"{cmd:<{width}}   # {comment}" if comment else cmd)
    w.append("```")
    w.append("")
    w.append("## Key facts (from `expected.json`)")
    w.append("")
    w.append(f"- family: {e['family']} (`{e['model_type']}`), exporter: `{e['exporter']}`")
    w.append(f"- blocks: {e['num_blocks']}")
    w.append(f"- KV cache inputs/outputs (`with_past`): {yes_no(e['with_past'])}")
    w.append("- external data: " + (f"`{e['external_data']}`" if e["external_data"]
                                     else "none (weights inline in `model.onnx`)"))
    w.append(f"- anonymous names: {yes_no(e['anonymous'])}; quantized: {yes_no(e['quantized'])}")
    w.append(f"- hidden size {e['hidden_size']}, vocabulary {e['vocab_size']}")
    w.append(f"- reference source: `{e['reference_source']}`")
    if e.get("hf_source"):
        weights = f"those of `{e['hf_source']}` (`hf_source`)"
    elif (FIXTURES / name / "hf").is_dir():
        weights = "`hf/` in this folder" + (" (the fp32 model before quantization)"
                                            if e["quantized"] else "")
    else:
        weights = "none (no fp32 PyTorch equivalent)"
    w.append(f"- PyTorch weights: {weights}")
    w.append("")
    w.append("## Other generated files of this fixture")
    w.append("")
    plans = ("`plans.json` here: `scripts/make_plan_references.py " + name + "` (PLANS.md)"
             if not e["quantized"] and not e.get("hf_source") else
             f"no `plans.json`: `scripts/make_plan_references.py` checks this fixture and "
             f"its tests use `{e['hf_source']}/plans.json` (same weights and inputs)"
             if not e["quantized"] else
             "no `plans.json` (quantized: `scripts/make_plan_references.py` skips it)")
    w.append(f"- {plans}")
    for line in files:
        w.append(f"- {line}")
    data = ROOT / "tests" / "data"
    if (data / "prune" / f"{name}.json").exists():
        w.append(f"- `tests/data/prune/{name}.json`: `scripts/make_prune_references.py {name}`")
    evals = sorted((data / "expected").glob(f"{name}.*.json"))
    if evals:
        w.append(f"- `tests/data/expected/{name}.*.json` ({len(evals)} files): "
                 f"`scripts/eval_reference.py --only {name}`")
    if see_also:
        w.append("")
        w.append("See also: " + "; ".join(see_also) + ".")
    w.append("")
    return "\n".join(w)


def exporter_call(spec):
    """(generator chain after build_fixture, tool description, packages) of a spec."""
    derived = spec.get("derived")
    if derived == "anon":
        return ("`anonymize` on a copy of its source's `model.onnx`",
                "`onnx` (rename nodes `n{k}`, tensors `t{k}`, initializers `w{k}`; clear "
                "metadata and doc strings)", ["onnx", "onnxruntime"])
    if derived == "extdata":
        return ("`onnx.save(save_as_external_data=True, location=\"weights.bin\", "
                "size_threshold=0)` of its source's `model.onnx`",
                "`onnx` (every initializer into `weights.bin`)", ["onnx", "onnxruntime"])
    chain = f"`build_model` (random weights, `torch.manual_seed({spec['seed']})`) → "
    if spec["exporter"] == "optimum":
        tool = (f"optimum `main_export(task=\"{spec['task']}\", library_name=\"transformers\", "
                "no_post_process=True)`")
        pkgs = ["optimum", "optimum-onnx", "torch", "transformers", "onnx"]
        chain += "`export_optimum`"
        if derived == "quant":
            chain += " → `onnxruntime.quantization.quantize_dynamic` → `anonymize`"
            tool += (", then `quantize_dynamic(weight_type=QuantType.QInt8, per_channel=False, "
                     "reduce_range=True)` and `anonymize`")
            pkgs += ["onnxruntime"]
    elif spec["exporter"] == "torchscript":
        chain += "`export_torchscript`"
        tool = ("`torch.onnx.export(dynamo=False, opset_version=17, do_constant_folding=True)` "
                "(TorchScript exporter; optimum's vmap-free masks via `traceable_masks`)")
        pkgs = ["torch", "transformers", "optimum", "onnx"]
    else:
        chain += "`export_dynamo`"
        tool = ("`torch.onnx.export(dynamo=True, external_data=True)` (optimum's vmap-free "
                "masks via `traceable_masks`), re-saved with every float tensor of rank >= 1 "
                "in `model.onnx.data`")
        pkgs = ["torch", "onnxscript", "transformers", "optimum", "onnx"]
    return chain, tool, pkgs


def write_fixture_readme(spec):
    """tests/fixtures/<name>/README.md of one make_fixtures.py fixture, from its spec and
    expected.json."""
    name = spec["name"]
    out = FIXTURES / name
    expected = json.loads((out / "expected.json").read_text())
    chain, tool, pkgs = exporter_call(spec)
    source = spec.get("source")
    made_from_it = [f"`{s['name']}`" for s in SPECS if s.get("source") == name]
    made_from_it += [f"`{n}` (by `scripts/make_deploy_fixtures.py`)"
                     for n in DEPLOY_MADE_FROM.get(name, [])]
    if expected["reference_source"] == "pytorch":
        reference = ("outputs of the PyTorch model (`torch_outputs`) on the inputs of "
                     "`make_feeds`; onnxruntime on `model.onnx` must reproduce them within "
                     f"{TOLERANCE:g}")
    elif source:
        reference = (f"the inputs of `{source}/reference.json`, outputs = onnxruntime on this "
                     f"`model.onnx` (`ort_outputs`), checked against `{source}`'s PyTorch "
                     f"outputs within {TOLERANCE:g}")
    else:
        reference = ("outputs = onnxruntime on this `model.onnx` (`ort_outputs`; the PyTorch "
                     "model differs by the quantization error, see tests/fixtures/README.md)")
    rebuild = [(f"python3 scripts/make_fixtures.py {name}",
                "this folder (recreated) and tests/fixtures/README.md")]
    if not expected["quantized"] and not expected.get("hf_source"):
        rebuild.append((f".venv-fixtures/bin/python scripts/make_plan_references.py {name}",
                        "then its plans.json (the rebuild deletes it)"))
    text = fixture_readme(
        name, expected, "scripts/make_fixtures.py",
        made_by=f"`build_fixture(spec \"{name}\")` → {chain}",
        tool=tool, versions={p: importlib.metadata.version(p) for p in pkgs},
        reference=reference, rebuild=rebuild, source=source, made_from_it=made_from_it,
        see_also=[f"`tests/fixtures/README.md` (section `{name}`: the graph facts measured on "
                  "`model.onnx`; the exporter quirks)"])
    (out / FIXTURE_README).write_text(text)
    return out / FIXTURE_README


# ---------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------
PINNED = ["torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxscript",
          "onnxruntime", "tokenizers", "safetensors", "numpy"]


def dir_size(path):
    """Bytes of the files under `path`, the per-fixture README.md not counted (sizes are
    those of the fixture data)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*")
               if p.is_file() and p.name != FIXTURE_README)


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def write_readme(results):
    versions = {p: importlib.metadata.version(p) for p in PINNED}
    lines = []
    w = lines.append
    w("# Test fixtures")
    w("")
    w("Tiny random-weight transformer models exported to ONNX, used by the tests of")
    w("`painters`. Everything here is generated; do not edit by hand. Rebuild with")
    w("")
    w("```")
    w("python3 scripts/make_fixtures.py            # all fixtures")
    w("python3 scripts/make_fixtures.py NAME ...   # only some (derived ones need their source)")
    w("python3 scripts/make_fixtures.py --readme-only [NAME ...]   # only the fixtures' own README.md")
    w("```")
    w("")
    w("The script creates the git-ignored venv `.venv-fixtures/`, installs the pinned")
    w("`scripts/requirements-fixtures.txt` (torch from PyPI pulls ~4 GB of CUDA wheels and")
    w("runs on CPU), re-executes itself inside it, builds every model from a config with")
    w("random weights (`torch.manual_seed` per fixture; no model hub), exports it, writes")
    w("the PyTorch reference outputs, and finally checks that onnxruntime on `model.onnx`")
    w(f"reproduces `reference.json` within {TOLERANCE:g} (absolute); it fails otherwise.")
    w("This README (including the graph facts below) is written by the script too, and so")
    w("is each fixture's own `README.md`: the function that made it (`build_fixture` and the")
    w("exporter function), the tool and its version, the command that rebuilds just that")
    w("fixture, and its key facts from `expected.json`. `--readme-only` rewrites those from")
    w("`expected.json` without exporting anything (this README needs a full run: it holds")
    w("measurements and build notes). Helpers the scripts share (the `reference.json` tensor")
    w("format, the plan parser, SplitMix64, the perplexity windows, log-softmax) are in")
    w("`scripts/painters_ref.py`, each naming the Rust code it mirrors.")
    w("")
    w("Versions used: " + ", ".join(f"`{k}=={v}`" for k, v in versions.items()) + ".")
    w("")
    w(f"All models: fp32, eval mode, `hidden_size` {HIDDEN}, intermediate {INTERMEDIATE}, "
      f"{HEADS} heads ({KV_HEADS} kv heads for the decoders, head_dim {HIDDEN // HEADS}), "
      f"vocab {VOCAB}, max positions {MAX_POS}; `initializer_range` 0.1 and every 1-D "
      "parameter (norm scales, biases) randomly perturbed, so that no block is close to")
    w("identity and swapped/duplicated blocks change the outputs. Llama, Qwen2 and Gemma")
    w("tie the LM head to the embedding; Mistral does not.")
    w("")
    w("## Files in each fixture")
    w("")
    w("- `README.md`: which script and function made this fixture, the tool and its version,")
    w("  how to rebuild just it, its key facts (not counted in the sizes below).")
    w("- `model.onnx` (+ external data where `expected.json` says so)")
    w("- `config.json`: the Hugging Face config; `hf/config.json` + `hf/model.safetensors`:")
    w("  the PyTorch weights (`save_pretrained`). The derived fixtures `llama-anon` and")
    w("  `llama-optimum-extdata` have no `hf/`: `expected.json` names `hf_source`.")
    w("- `tokenizer.json` (+ `tokenizer_config.json`): decoders get a byte-level BPE trained")
    w("  on a few paragraphs in the script, exactly 256 ids: `<unk>`=0, `<s>`=1, `</s>`=2,")
    w("  the bytes seen in the text, merges; bytes never seen map to `<unk>`; a template adds")
    w("  `<s>` in front. BERT/DistilBERT: WordPiece, `[PAD]`=0 `[UNK]`=1 `[CLS]`=2 `[SEP]`=3")
    w("  `[MASK]`=4, BERT template. RoBERTa: WordPiece with `<s>`=0 `<pad>`=1 `</s>`=2")
    w("  `<unk>`=3 `<mask>`=4 and a `<s> $A </s>` template.")
    w("- `expected.json`: what the tool should find (family, exporter, `num_blocks`, ...).")
    w("- `reference.json`: every graph input by name (batch 2, sequence 7) and every graph")
    w("  output. Decoders: all-ones masks, `position_ids` 0..6. With past: a real cache of 3")
    w("  prefix tokens from a PyTorch forward, `attention_mask` of length 10, `position_ids`")
    w("  3..9. Encoders: row 2 right-padded (last 2 positions mask 0, pad token id),")
    w("  `token_type_ids` 0. `reference_source` is `pytorch` (outputs of the PyTorch model) or")
    w("  `onnxruntime` for the derived fixtures (their own ORT outputs; for `llama-anon` and")
    w("  `llama-optimum-extdata` these are also checked against `llama-optimum`'s PyTorch")
    w("  reference). Tensors are `{\"dtype\", \"shape\", \"data\"}`, data flat and row-major, float32")
    w("  as the shortest decimal that round-trips (`painters_ref.tensor_json`).")
    w("")
    w("## Fixtures")
    w("")
    w("| fixture | model | exporter | blocks | with_past | external data | naming | example layer-1 node | max abs diff ORT vs reference | size |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        s, e, a = r["spec"], r["expected"], r["analysis"]
        if e["anonymous"]:
            naming = "anonymous (`n{k}`/`t{k}`/`w{k}`)"
        elif s["exporter"] == "dynamo":
            naming = "flat names, module path in `metadata_props`"
        else:
            naming = "module path in node name"
        if a["example_layer1_node"]:
            ex = f"`{a['example_layer1_node']}`"
        else:
            ex = f"none (first node `{a['first_nodes'][0]}`)"
        if a["example_layer1_meta"].get("pkg.torch.onnx.name_scopes"):
            ex += f", name_scopes `{a['example_layer1_meta']['pkg.torch.onnx.name_scopes']}`"
        model_desc = f"{s['model_type']}" + (" (int8 dynamic quant)" if e["quantized"] else "")
        w(f"| `{s['name']}` | {model_desc} | {s['exporter']} | {s['layers']} | "
          f"{str(s['with_past']).lower()} | {e['external_data'] or '-'} | {naming} | {ex} | "
          f"{r['diff']:.2e} | {r['size'] / 1024:.0f} KiB |")
    w("")
    w("## Graph facts (measured by the script on these files)")
    w("")
    for r in results:
        s, a = r["spec"], r["analysis"]
        w(f"### {s['name']}")
        w("")
        w(f"- {a['nodes']} nodes, {a['initializers']} initializers, IR {a['ir_version']}, "
          f"opsets {a['opset']}; first nodes: " + ", ".join(f"`{n}`" for n in a["first_nodes"]))
        w("- graph inputs and the nodes reading them: " + "; ".join(
            f"`{n}` → " + (", ".join(a["input_readers"][n]) or "nothing")
            for n in a["inputs"] if n in ("input_ids", "attention_mask", "position_ids",
                                          "token_type_ids", "past_key_values.0.key",
                                          "past_key_values.1.key"))
          + ("; ... (same pattern for the other past_key_values)"
             if any(n.startswith("past_key_values.2") for n in a["inputs"]) else ""))
        if a["transposes_of_initializers"]:
            w("- Transpose nodes reading an initializer (tied LM head): "
              + ", ".join(f"`{n}`" for n in a["transposes_of_initializers"]))
        outs = []
        for o in a["outputs"]:
            where = f"layer {o['producer_layer']}" if o["producer_layer"] is not None else "no layer"
            outs.append(f"`{o['name']}` ← {o['producer_op']} `{o['producer']}` ({where})")
        shown = outs if len(outs) <= 4 else outs[:3] + [f"... ({len(outs) - 3} more)"]
        w("- graph outputs: " + "; ".join(shown))
        w("- example initializers: " + ", ".join(f"`{n}`" for n in a["example_initializers"]))
        crossing = a["layer0_tensors_read_later"]
        if a["detected_layers"]:
            if crossing:
                items = [f"`{k}` (read by layers {','.join(map(str, v))}; "
                         + ("residual stream" if k in a["stream_tensors"] else "context: no residual-stream input")
                         + ")" for k, v in crossing.items()]
                w(f"- tensors produced by nodes named/scoped as layer 0 and read by later layers "
                  f"({len(items)}): " + "; ".join(items))
            else:
                w("- no tensor produced by a layer-0 node is read by a later layer")
        else:
            w("- no layer can be read from node names or metadata (structure only)")
        if r.get("notes"):
            w("- notes: " + "; ".join(f"{k}: {v}" for k, v in r["notes"].items()))
        w("")
    (FIXTURES / "README.md").write_text("\n".join(lines) + QUIRKS)


QUIRKS = """
## Exporter quirks observed

- *Context computed inside layer 0, read by every later layer.* Optimum and TorchScript
  Llama-family exports (Llama, Qwen2, Mistral, Gemma): rotary cos/sin with a head axis,
  `/model/layers.0/self_attn/Unsqueeze_6_output_0` and `Unsqueeze_7_output_0`. Dynamo
  Llama: `unsqueeze_16`/`unsqueeze_17` (cos/sin) and four shape vectors (`val_52`,
  `val_116`, `val_122`, `val_150`, Concat nodes scoped `model.layers.0.self_attn`).
  Dynamo BERT: two shape vectors `val_27`, `val_49` (scoped `encoder.layer.0.attention.self`).
  None of them depends on the residual stream (the analysis above follows everything
  downstream of the token-embedding Gather, except through Shape). The optimum/TorchScript
  BERT-family exports have no such tensor: only the residual stream crosses.
- *Prologue.* The 4-D additive mask is built before layer 0 (nodes `/model/...`), and
  `past_key_values.0.key` is also read by a `Shape` outside the layers (the past length)
  besides the layer-0 `Concat`; `past_key_values.{i>0}.*` are read only by layer i.
- *Graph output = last block output.* For every encoder export (optimum, TorchScript,
  dynamo; BERT, RoBERTa, DistilBERT) the graph output `last_hidden_state` is the output of
  the last block's final LayerNormalization itself (named/scoped as the last layer): a
  rewrite must keep that output name. Decoder `present.{i}.key/value` outputs are the
  layer-i `Concat` outputs. `logits` comes from `/lm_head/MatMul` (dynamo: `node_linear_N`
  with no layer scope; quantized: a `Mul` applying the dequantization scale).
- *Tied embeddings are stored twice in these tiny exports.* Every tied model here (Llama,
  Qwen2, Gemma; all exporters) keeps the `[256, 32]` embedding for the `Gather` and a
  constant-folded `[32, 256]` transposed copy (`onnx::MatMul_N`, dynamo `val_N`) for the LM
  head; there is no `Transpose` node left. (The dynamo export names the embedding
  `lm_head.weight`.) Real exports with large vocabularies may differ.
- *Gemma.* Optimum's Gemma export takes no `position_ids` input (only `input_ids`,
  `attention_mask`), and the RMSNorm `(1 + weight)` is constant-folded, so the norm
  weights are anonymous initializers (`onnx::Mul_N`) instead of PyTorch names.
- *Names.* Optimum/TorchScript: node names carry the module path (`/model/layers.1/...`,
  `/encoder/layer.1/...`, `/transformer/layer.1/...` for DistilBERT); linear weights are
  anonymous (`onnx::MatMul_N`), norms/biases/embeddings keep PyTorch names. Dynamo: flat
  node names (`node_linear_7`, `node_MatMul_55`), weights `val_N` (norms, biases and
  embeddings keep PyTorch names), module path in node `metadata_props`
  (`namespace`, `pkg.torch.onnx.name_scopes`, plus `pkg.torch.onnx.class_hierarchy`,
  `pkg.torch.onnx.fx_node`, `pkg.torch.onnx.stack_trace`; these make the dynamo
  `model.onnx` large, and the stack traces contain the absolute path of the venv that
  built them). Dynamo files are IR 10 / opset 20; optimum IR 8 / opset 18; TorchScript
  IR 8 / opset 17.
- *Dynamo external data.* `torch.onnx.export(..., dynamo=True, external_data=True)` to a
  path wrote `model.onnx` + `model.onnx.data`, but only the 2-D weights went external;
  the script re-saves so that every floating-point initializer of rank >= 1 (norm
  weights, biases, rotary tables) is in `model.onnx.data`. Integer tensors and scalars
  stay inline: with them external, onnxruntime 1.31 refuses the model
  (`Cannot parse data from external tensors`, shape inference needs axes/shapes).
- *Export workarounds.* transformers 4.57 builds masks with `torch.vmap`, which neither
  the TorchScript tracer (`unordered_map::at`) nor torch.export with dynamic shapes
  (`8*s72 is not tracked with proxy`) can follow. The script registers optimum's vmap-free
  mask functions during the direct TorchScript and dynamo exports (as optimum's own
  patcher does; numerically identical). For the TorchScript Llama export the instance
  `forward` is pinned to `(input_ids, attention_mask)` (traced positionally,
  `LlamaForCausalLM` otherwise grows a stray scalar input `onnx::Gather_2`). The dynamo
  sequence dimension needs `min=2` (export specialises on length 1).
- *Derived fixtures.* `llama-anon` is `llama-optimum` renamed (nodes `n{k}` by position,
  intermediate tensors `t{k}` by order of production, initializers `w{k}` by position;
  graph inputs/outputs keep their names; node metadata_props and all doc strings
  cleared). `llama-quant` is a separate 6-block Llama exported by optimum, then
  `onnxruntime.quantization.quantize_dynamic(weight_type=QInt8, reduce_range=True)` (7-bit weights: no int16 saturation on AVX2, so the same output on every x86 CPU): every linear becomes
  `DynamicQuantizeLinear` + `MatMulInteger` (+ `Cast`/`Mul` for the scales), the embedding
  becomes a uint8 initializer read through one `DequantizeLinear`; then anonymised the
  same way. Its reference is its own ORT output (quantization error vs PyTorch is in the
  notes above). `llama-optimum-extdata` is `llama-optimum` re-saved with every initializer
  in `weights.bin` (`size_threshold=0`; `Constant` nodes stay inline).
"""


def main(argv):
    readme_only = argv[:1] == ["--readme-only"]
    if readme_only:
        argv = argv[1:]
    wanted = set(argv)
    unknown = wanted - {s["name"] for s in SPECS}
    if unknown:
        sys.exit(f"unknown fixtures: {sorted(unknown)}")
    if readme_only:
        # Only the per-fixture READMEs, from expected.json: no export, no onnxruntime.
        # (tests/fixtures/README.md needs the build notes of a full run; it is not rewritten.)
        for spec in SPECS:
            present = (FIXTURES / spec["name"] / "expected.json").exists()
            if present and (not wanted or spec["name"] in wanted):
                print(f"[fixtures] wrote {write_fixture_readme(spec).relative_to(ROOT)}")
        return
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    failures = []
    build_notes = {}
    for spec in SPECS:
        if wanted and spec["name"] not in wanted:
            continue
        print(f"[fixtures] building {spec['name']} ...", flush=True)
        try:
            out, notes = build_fixture(spec)
            reference = json.loads((out / "reference.json").read_text())
            diff = check_against_reference(out, reference)
            if diff > TOLERANCE:
                raise AssertionError(f"ORT differs from reference by {diff:.3e} > {TOLERANCE}")
            build_notes[spec["name"]] = notes
            print(f"[fixtures] {spec['name']}: OK, max abs diff ORT vs reference = {diff:.3e}"
                  + (f" {notes}" if notes else ""), flush=True)
        except Exception as exc:  # report every failure, then fail loudly at the end
            import traceback

            traceback.print_exc()
            failures.append((spec["name"], repr(exc)))
            print(f"[fixtures] {spec['name']}: FAILED: {exc!r}", flush=True)
    # Re-check every fixture present and write the README from what is on disk.
    results = []
    for spec in SPECS:
        out = FIXTURES / spec["name"]
        if not (out / "reference.json").exists():
            continue
        reference = json.loads((out / "reference.json").read_text())
        diff = check_against_reference(out, reference)
        if diff > TOLERANCE and spec["name"] not in [f[0] for f in failures]:
            failures.append((spec["name"], f"ORT diff {diff}"))
        results.append({"spec": spec, "expected": json.loads((out / "expected.json").read_text()),
                        "analysis": analyze(out / "model.onnx"), "diff": diff,
                        "size": dir_size(out), "notes": build_notes.get(spec["name"])})
        write_fixture_readme(spec)
    write_readme(results)
    total = dir_size(FIXTURES)
    print(f"[fixtures] total size of {FIXTURES}: {total / 1e6:.2f} MB")
    for r in results:
        name = r["spec"]["name"]
        digests = {p.name: file_digest(p) for p in sorted((FIXTURES / name).glob("model.onnx*"))}
        print(f"[fixtures] {name}: {digests}")
    if failures:
        for name, why in failures:
            print(f"[fixtures] FAILED {name}: {why}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
