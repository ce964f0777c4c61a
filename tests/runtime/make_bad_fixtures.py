#!/usr/bin/env python3
# Builds corrupt and sharded variants of a model fixture for the runtime's
# bad-input tests: make_bad_fixtures.py SRC_DIR OUT_DIR. Each variant is a
# directory OUT_DIR/NAME holding links to SRC's files except the one it
# breaks. OUT_DIR/cases.tsv lists NAME<TAB>text the error must contain.
import json
import os
import shutil
import struct
import sys

src, out = sys.argv[1], sys.argv[2]
src = os.path.abspath(src)
FILES = ["config.json", "generation_config.json", "tokenizer_config.json",
         "added_tokens.json", "tokenizer.model", "model.safetensors"]


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return header, data


def write_st(path, header, data):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def variant(name, skip=()):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for fn in FILES:
        if fn not in skip and os.path.exists(os.path.join(src, fn)):
            os.symlink(os.path.join(src, fn), os.path.join(d, fn))
    return d


os.makedirs(out, exist_ok=True)
header, data = read_st(os.path.join(src, "model.safetensors"))
raw = open(os.path.join(src, "model.safetensors"), "rb").read()
cases = []


def st_case(name, expect, mutate):
    h = json.loads(json.dumps(header))
    dd = mutate(h)
    d = variant(name, skip=("model.safetensors",))
    write_st(os.path.join(d, "model.safetensors"), h, data if dd is None else dd)
    cases.append((name, expect))


# data cut short: the last tensors run past the end
d = variant("truncated", skip=("model.safetensors",))
open(os.path.join(d, "model.safetensors"), "wb").write(raw[: len(raw) // 2])
cases.append(("truncated", "run past the end"))
# cut inside the header
d = variant("truncated_header", skip=("model.safetensors",))
open(os.path.join(d, "model.safetensors"), "wb").write(raw[:100])
cases.append(("truncated_header", "truncated or corrupt"))
# empty file
d = variant("empty", skip=("model.safetensors",))
open(os.path.join(d, "model.safetensors"), "wb").close()
cases.append(("empty", "truncated"))


def overlap(h):
    h["model.layers.0.input_layernorm.weight"]["data_offsets"] = \
        h["model.layers.0.input_layernorm.bias"]["data_offsets"]


st_case("overlap", "overlaps", overlap)


def past_eof(h):
    b, e = h["model.norm.weight"]["data_offsets"]
    h["model.norm.weight"]["data_offsets"] = [b + 4096, e + 4096]


st_case("past_eof", "model.norm.weight': data_offsets", past_eof)


def misaligned(h):
    b, e = h["lm_head.bias"]["data_offsets"]
    h["lm_head.bias"]["data_offsets"] = [b + 1, e + 1]


st_case("misaligned", "lm_head.bias': data not aligned", misaligned)


def wrong_shape(h):
    h["model.layers.1.self_attn.q_proj.weight"]["shape"] = [128, 192]


st_case("wrong_shape", "model.layers.1.self_attn.q_proj.weight' has shape [128, 192]", wrong_shape)


def wrong_dtype(h):
    h["model.layers.0.block_sparse_moe.gate.weight"]["dtype"] = "F16"


st_case("wrong_dtype", "model.layers.0.block_sparse_moe.gate.weight' has dtype f16", wrong_dtype)


def bad_dtype(h):
    h["model.norm.bias"]["dtype"] = "I64"
    h["model.norm.bias"]["shape"] = [32]


st_case("unsupported_dtype", "model.norm.bias': unsupported dtype I64", bad_dtype)


def missing(h):
    del h["model.layers.1.block_sparse_moe.experts.7.w2.weight"]


st_case("missing_tensor", "missing tensor 'model.layers.1.block_sparse_moe.experts.7.w2.weight'", missing)


def size_mismatch(h):
    h["model.layers.0.self_attn.k_proj.bias"]["shape"] = [97]


st_case("size_mismatch", "k_proj.bias': data_offsets span", size_mismatch)

# header that is not JSON
d = variant("header_garbage", skip=("model.safetensors",))
open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", 16) + b"{not json at all" + data)
cases.append(("header_garbage", "header is not a JSON object"))

# config contradicting the weights
d = variant("config_hidden", skip=("config.json",))
cfg = json.load(open(os.path.join(src, "config.json")))
cfg["hidden_size"] = 96
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
cases.append(("config_hidden", "model.embed_tokens.weight' has shape [512, 128] but config.json implies [512, 96]"))
d = variant("config_bad_field", skip=("config.json",))
cfg = json.load(open(os.path.join(src, "config.json")))
cfg["num_hidden_layers"] = "two"
json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
cases.append(("config_bad_field", "config.json: field \"num_hidden_layers\" must be an integer"))
d = variant("config_missing", skip=("config.json",))
cases.append(("config_missing", "config.json: missing"))
d = variant("config_corrupt", skip=("config.json",))
open(os.path.join(d, "config.json"), "w").write('{"vocab_size": 512, ')
cases.append(("config_corrupt", "config.json: not a JSON object"))

# tokenizer
variant("tokenizer_missing", skip=("tokenizer.model",))
cases.append(("tokenizer_missing", "tokenizer.model: missing"))
d = variant("tokenizer_corrupt", skip=("tokenizer.model",))
tm = open(os.path.join(src, "tokenizer.model"), "rb").read()
open(os.path.join(d, "tokenizer.model"), "wb").write(bytes(b ^ 0x5a for b in tm[:2000]))
cases.append(("tokenizer_corrupt", "tokenizer.model: not a SentencePiece model"))

# special tokens that eat the whitespace around them (Phi-3's chat markers)
d = variant("tokenizer_strip", skip=("tokenizer_config.json",))
tc = json.load(open(os.path.join(src, "tokenizer_config.json")))
tc["added_tokens_decoder"] = {"487": {"content": "<|end|>", "lstrip": True, "rstrip": True,
                                      "special": True}}
json.dump(tc, open(os.path.join(d, "tokenizer_config.json"), "w"))

# sharded checkpoint: the same tensors over two files and an index
d = variant("sharded", skip=("model.safetensors",))
names = sorted(k for k in header if k != "__metadata__")
wm = {}
for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2:])):
    fn = "model-%05d-of-00002.safetensors" % (i + 1)
    h, blob, off = {"__metadata__": {"format": "pt"}}, bytearray(), 0
    for k in part:
        b, e = header[k]["data_offsets"]
        h[k] = dict(header[k], data_offsets=[off, off + e - b])
        blob += data[b:e]
        off += e - b
        wm[k] = fn
    write_st(os.path.join(d, fn), h, bytes(blob))
json.dump({"metadata": {}, "weight_map": wm}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
# an index naming a shard that is not there
d2 = variant("sharded_missing_shard", skip=("model.safetensors",))
for fn in os.listdir(d):
    if fn.startswith("model-00001"):
        shutil.copy(os.path.join(d, fn), os.path.join(d2, fn))
shutil.copy(os.path.join(d, "model.safetensors.index.json"), d2)
cases.append(("sharded_missing_shard", "model-00002-of-00002.safetensors: No such file"))



# the same weights stored as F32 and as F16 (loaders must accept both)
def convert(name, st_dtype, torch_dtype, pack):
    d = variant(name, skip=("model.safetensors", "config.json"))
    cfg = json.load(open(os.path.join(src, "config.json")))
    cfg["torch_dtype"] = torch_dtype
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    h, blob, off = {"__metadata__": {"format": "pt"}}, bytearray(), 0
    for k in names:
        b, e = header[k]["data_offsets"]
        vals = [struct.unpack("<f", struct.pack("<I", v << 16))[0]
                for v in struct.unpack("<%dH" % ((e - b) // 2), data[b:e])]
        chunk = pack(vals)
        h[k] = dict(header[k], dtype=st_dtype, data_offsets=[off, off + len(chunk)])
        blob += chunk
        off += len(chunk)
    write_st(os.path.join(d, "model.safetensors"), h, bytes(blob))


convert("as_f32", "F32", "float32", lambda v: struct.pack("<%df" % len(v), *v))
convert("as_f16", "F16", "float16", lambda v: struct.pack("<%de" % len(v), *v))

with open(os.path.join(out, "cases.tsv"), "w") as f:
    for n, e in cases:
        f.write("%s\t%s\n" % (n, e))
