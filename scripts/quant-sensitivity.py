#!/usr/bin/env python3
"""How much weight error a fixture's logits bear (README, "Quantized model
files"): the weights `splitmoe quantize` would quantize (attention
projections, experts, lm_head) get either Gaussian noise of EPS x their
tensor's RMS or the int8 / q4 rounding itself (codes x binary16 scales,
groups of 32, kept as f32), everything else as stored; each variant is
written as an f32 checkpoint and run by `splitmoe eval --dtype f32`, so the
activations stay f32 and only the weights differ. Prints top-1 agreement
and the minimum cosine per variant. Python's standard library only.

    scripts/quant-sensitivity.py FIXTURE_DIR [SPLITMOE] [VARIANT ...]
    VARIANT: noise:EPS | round:int8 | round:q4
"""
import json, math, os, random, re, shutil, struct, subprocess, sys, tempfile
from array import array

def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, v in head.items():
        if name == "__metadata__":
            continue
        s, e = v["data_offsets"]
        b = raw[base + s:base + e]
        if v["dtype"] == "BF16":
            a = array("f", struct.pack("<%dI" % (len(b) // 2),
                                       *(x << 16 for x in struct.unpack("<%dH" % (len(b) // 2), b))))
        elif v["dtype"] == "F32":
            a = array("f", b)
        elif v["dtype"] == "F16":
            a = array("f", struct.unpack("<%de" % (len(b) // 2), b))
        else:
            sys.exit("%s: tensor %s has dtype %s (bf16, f16, f32 only)" % (path, name, v["dtype"]))
        out[name] = (v["shape"], a)
    return out

def save(path, tensors):
    head, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, (shape, a) in tensors.items():
        b = a.tobytes()
        head[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    j = json.dumps(head).encode()
    j += b" " * (-len(j) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(j)) + j)
        for b in blobs:
            f.write(b)

def quantized_class(name, shape):
    return (len(shape) == 2 and name.endswith(".weight") and shape[1] % 32 == 0 and
            (re.search(r"\.(q|k|v|o)_proj\.", name) or ".experts." in name or name == "lm_head.weight"))

def f16(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]

def rounded(a, levels):
    out = array("f", a)
    for g in range(0, len(a), 32):
        amax = max(abs(x) for x in a[g:g + 32])
        s = f16(amax / levels)
        if s == 0:
            continue
        lo = -levels - 1 if levels == 7 else -levels
        for j in range(g, g + 32):
            out[j] = max(lo, min(levels, round(a[j] / s))) * s
    return out

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    fx = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else "build/splitmoe"
    variants = sys.argv[3:] or ["noise:0.0001", "noise:0.0003", "noise:0.001", "noise:0.003",
                                "round:int8", "round:q4"]
    tensors = load(os.path.join(fx, "model.safetensors"))
    rng = random.Random(1)
    print("| fixture | weights | top-1 | min cosine |")
    print("| --- | --- | ---: | ---: |")
    for var in variants:
        kind, _, arg = var.partition(":")
        out = {}
        for name, (shape, a) in tensors.items():
            if quantized_class(name, shape):
                if kind == "noise":
                    rms = math.sqrt(sum(x * x for x in a) / len(a))
                    sd = float(arg) * rms
                    a = array("f", (x + rng.gauss(0.0, sd) for x in a))
                elif kind == "round":
                    a = rounded(a, 127 if arg == "int8" else 7)
                else:
                    sys.exit("variant %r: noise:EPS or round:int8|q4" % var)
            out[name] = (shape, a)
        with tempfile.TemporaryDirectory() as d:
            for f in os.listdir(fx):
                if f != "model.safetensors" and os.path.isfile(os.path.join(fx, f)):
                    shutil.copy(os.path.join(fx, f), d)
            cfg = json.load(open(os.path.join(d, "config.json")))
            cfg["torch_dtype"] = "float32"
            json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
            save(os.path.join(d, "model.safetensors"), out)
            r = subprocess.run([binary, "eval", "--model", d, "--reference",
                                os.path.join(fx, "reference.json"), "--dtype", "f32",
                                "--arbiter", "off"], capture_output=True, text=True)
        agree = total = 0
        mincos = 1.0
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 6 and f[0].isdigit() and "/" in f[5]:
                a, b = f[5].split("/")
                agree, total = agree + int(a), total + int(b)
                mincos = min(mincos, float(f[4]))
        if not total:
            sys.exit("eval of %s gave no table:\n%s%s" % (var, r.stdout, r.stderr))
        label = "Gaussian noise, %g%% of RMS" % (100 * float(arg)) if kind == "noise" else \
                "%s rounding (f32 activations)" % arg
        print("| %s | %s | %d/%d (%.1f%%) | %.5f |" % (os.path.basename(fx.rstrip("/")), label,
              agree, total, 100.0 * agree / total, mincos))

main()
