#!/usr/bin/env python3
# Builds broken variants of a quantized model directory (splitmoe quantize's
# output) for the bad-input tests of quantized files:
#   make_bad_qfiles.py QDIR OUT_DIR
# Each variant OUT_DIR/NAME links to QDIR's files except the one it breaks;
# OUT_DIR/cases.tsv lists NAME<TAB>text the one error line must contain.
import json
import os
import shutil
import struct
import sys

src, out = os.path.abspath(sys.argv[1]), sys.argv[2]
ST = os.path.join(src, "model.safetensors")


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return header, data


def write_st(path, header, data):
    h = json.dumps(header).encode()
    h += b" " * (-(8 + len(h)) % 64)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def variant(name, broken):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for fn in os.listdir(src):
        if fn != broken:
            os.symlink(os.path.join(src, fn), os.path.join(d, fn))
    return d


os.makedirs(out, exist_ok=True)
header, data = read_st(ST)
config = json.load(open(os.path.join(src, "config.json")))
fmt = config["splitmoe_quantization"]["format"]
cases = []
Q = "model.layers.0.self_attn.q_proj.weight"
W2 = "model.layers.1.block_sparse_moe.experts.3.w2.weight"


def st_case(name, expect, mutate):
    h = json.loads(json.dumps(header))
    d = mutate(h)
    write_st(os.path.join(variant(name, "model.safetensors"), "model.safetensors"), h,
             data if d is None else d)
    cases.append((name, expect))


def config_case(name, expect, mutate):
    c = json.loads(json.dumps(config))
    mutate(c)
    with open(os.path.join(variant(name, "config.json"), "config.json"), "w") as f:
        json.dump(c, f, indent=2)
    cases.append((name, expect))


# the scales of one weight gone
st_case("missing-scale", "missing tensor '%s_scale'" % Q,
        lambda h: h.pop(Q + "_scale") and None)
# scales of the wrong shape (same bytes, so only the shape is wrong)
def reshape_scale(h):
    s = h[W2 + "_scale"]["shape"]
    h[W2 + "_scale"]["shape"] = [s[0] * s[1], 1]
st_case("scale-shape", "tensor '%s_scale' has shape" % W2, reshape_scale)
# scales stored as bf16
def bf16_scale(h):
    h[Q + "_scale"]["dtype"] = "BF16"
st_case("scale-dtype", "tensor '%s_scale' has dtype bf16" % Q, bf16_scale)
# the file cut short by a byte: its last tensor runs past the end
last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])
st_case("truncated", "tensor '%s': data_offsets" % last, lambda h: data[:-1])
# codes of the other format
other = "int8" if fmt == "q4" else "q4"
config_case("other-format", "tensor 'lm_head.weight' has dtype",
            lambda c: c["splitmoe_quantization"].update(format=other))
config_case("unknown-format", '"splitmoe_quantization.format" = "q3" unknown',
            lambda c: c["splitmoe_quantization"].update(format="q3"))
# hidden 128: a group of 48 does not divide the rows (lm_head is bound first)
config_case("group-not-dividing", "tensor 'lm_head.weight' has rows of 128 but group_size 48",
            lambda c: c["splitmoe_quantization"].update(group_size=48))
config_case("group-unsupported", "group_size 64",
            lambda c: c["splitmoe_quantization"].update(group_size=64))
config_case("version", '"splitmoe_quantization.version" = 2',
            lambda c: c["splitmoe_quantization"].update(version=2))
# a quantized file whose config lost its record: codes are not the checkpoint's dtype
config_case("no-record", "tensor 'lm_head.weight' has dtype",
            lambda c: c.pop("splitmoe_quantization"))

with open(os.path.join(out, "cases.tsv"), "w") as f:
    for name, expect in cases:
        f.write("%s\t%s\n" % (name, expect))
