#!/usr/bin/env python3
# A synthetic PhiMoE checkpoint with the fixture's layout, tokenizer and
# heads but wider and deeper, so that expert memory dominates the process
# and one copy against two shows in its resident memory:
#   make_wide_model.py SRC_DIR OUT_DIR HIDDEN INTERMEDIATE LAYERS
# Weights are bf16 noise (|w| < 0.05, LayerNorm gains 1): the text it
# generates means nothing; it is for measuring memory, not for accuracy.
import json
import os
import random
import re
import struct
import sys

src, out = os.path.abspath(sys.argv[1]), sys.argv[2]
hidden, inter, layers = (int(a) for a in sys.argv[3:6])


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


cfg = json.load(open(os.path.join(src, "config.json")))
old_h, old_i = cfg["hidden_size"], cfg["intermediate_size"]
cfg.update(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers)
header = read_header(os.path.join(src, "model.safetensors"))
header.pop("__metadata__", None)

rng = random.Random(1)
noise = b"".join(struct.pack("<f", rng.uniform(-0.05, 0.05))[2:] for _ in range(65521))
one = struct.pack("<f", 1.0)[2:]


def shape_of(name, shape):
    # the hidden and intermediate dimensions by their role, not their size
    if re.search(r"experts\.\d+\.w[13]\.weight$", name):
        return [inter, hidden]
    if re.search(r"experts\.\d+\.w2\.weight$", name):
        return [hidden, inter]
    if name.endswith("o_proj.weight"):
        return [hidden, shape[1]]
    if "layernorm" in name or name.startswith("model.norm") or name.endswith("o_proj.bias"):
        return [hidden]
    if len(shape) == 2:
        return [shape[0], hidden]
    return shape


tensors = []
for name, t in sorted(header.items()):
    m = re.match(r"model\.layers\.(\d+)\.(.*)", name)
    if m and int(m.group(1)) != 0:
        continue
    names = ["model.layers.%d.%s" % (l, m.group(2)) for l in range(layers)] if m else [name]
    for n in names:
        tensors.append((n, shape_of(n, t["shape"])))

os.makedirs(out, exist_ok=True)
new_header, off, parts = {}, 0, []
for i, (name, shape) in enumerate(tensors):
    count = 1
    for d in shape:
        count *= d
    if re.search(r"(layernorm|model\.norm)\.weight$", name):
        data = one * count
    elif name.endswith(".bias"):
        data = bytes(2 * count)
    else:
        start = (i * 7919) % 65521
        reps = (start + count) // 65521 + 1
        data = (noise * reps)[2 * start:2 * (start + count)]
    new_header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len(data)]}
    parts.append(data)
    off += len(data)
h = json.dumps(new_header).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for p in parts:
        f.write(p)
json.dump(cfg, open(os.path.join(out, "config.json"), "w"), indent=2)
for fn in ("generation_config.json", "tokenizer_config.json", "added_tokens.json",
           "tokenizer.model"):
    dst = os.path.join(out, fn)
    if os.path.exists(os.path.join(src, fn)) and not os.path.lexists(dst):
        os.symlink(os.path.join(src, fn), dst)
print("%s: hidden %d, intermediate %d, %d layers, %.1f MB of bf16 (%s was %d/%d)" %
      (out, hidden, inter, layers, off / 1e6, src, old_h, old_i))
