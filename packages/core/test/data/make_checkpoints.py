#!/usr/bin/env python3
"""Writes the small weight files the core weight-reader tests load, plus expected.json with their values.

Run from anywhere with a Python that has torch and numpy (Debian: apt-get install python3-torch; then
/usr/bin/python3 make_checkpoints.py). The outputs are checked in: the tests never need Python.

Nothing here unpickles anything; the hostile checkpoints are assembled from raw pickle opcodes so that no
Python object that would run code ever exists while writing them.
"""
import argparse
import collections
import json
import os
import shutil
import struct
import sys
import types
import zipfile

import numpy as np
import torch

OUT = os.path.dirname(os.path.abspath(__file__))
expected = {}


def record(tensors):
    """Expected values as the TypeScript reader returns them: floats as float32, integers as int32."""
    out = {}
    for k, t in tensors.items():
        t = t.detach()
        if t.is_floating_point():
            values = t.float().contiguous().flatten().tolist()
        else:
            values = t.to(torch.int64).contiguous().flatten().tolist()
        out[k] = {"dtype": DTYPE[t.dtype], "shape": list(t.shape), "values": values}
    return out


DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def tiny_model():
    torch.manual_seed(1234)
    m = torch.nn.Sequential(collections.OrderedDict(
        conv=torch.nn.Conv2d(2, 3, 2),
        norm=torch.nn.BatchNorm2d(3),
        fc=torch.nn.Linear(3, 4),
    ))
    with torch.no_grad():
        # Multiples of 1/64 (exact in fp16 and bf16) keep expected.json short.
        for p in m.parameters():
            p.copy_(torch.round(p * 64) / 64)
        m.norm.running_mean.copy_(torch.tensor([0.5, -0.25, 0.125]))
        m.norm.running_var.copy_(torch.tensor([1.5, 2.0, 0.75]))
        m.norm.num_batches_tracked.fill_(7)
    return m


def save(name, obj):
    path = os.path.join(OUT, name)
    torch.save(obj, path)
    return path


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed time: reruns give identical files
            info.compress_type = compression
            z.writestr(info, data)


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def rename_top(entries, top):
    return [(top + "/" + n.split("/", 1)[1], d) for n, d in entries]


# ---- hand-assembled pickle opcodes (for the hostile files) ----
def p_str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def p_short(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def main():
    # fp32 / fp16 / bf16 state dicts of one tiny module (BatchNorm gives an int64 buffer).
    m = tiny_model()
    sd32 = m.state_dict()
    save("fp32.ckpt", sd32)
    expected["fp32.ckpt"] = {"tensors": record(sd32)}
    sd16 = m.half().state_dict()
    save("fp16.pt", sd16)
    expected["fp16.pt"] = {"tensors": record(sd16)}
    sdbf = tiny_model().to(torch.bfloat16).state_dict()
    save("bf16.pth", sdbf)
    expected["bf16.pth"] = {"tensors": record(sdbf)}

    # Lightning-style checkpoint: state_dict beside optimizer state, schedulers, callbacks and hparams.
    # Lightning < 1.5 keys callback state by the callback *class*, so a pickle global appears outside the
    # state dict; a stand-in module with the real name reproduces that without Lightning installed.
    mod_names = ["pytorch_lightning", "pytorch_lightning.callbacks", "pytorch_lightning.callbacks.model_checkpoint",
                 "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing"]
    for n in mod_names:
        sys.modules[n] = types.ModuleType(n)
    ModelCheckpoint = type("ModelCheckpoint", (), {"__module__": "pytorch_lightning.callbacks.model_checkpoint"})
    sys.modules["pytorch_lightning.callbacks.model_checkpoint"].ModelCheckpoint = ModelCheckpoint
    AttributeDict = type("AttributeDict", (dict,), {"__module__": "pytorch_lightning.utilities.parsing"})
    sys.modules["pytorch_lightning.utilities.parsing"].AttributeDict = AttributeDict

    lm = tiny_model()
    opt = torch.optim.Adam(lm.parameters(), lr=1e-4, betas=(0.9, 0.999))
    sum((p * p).sum() for p in lm.parameters()).backward()
    opt.step()
    lsd = collections.OrderedDict(("model." + k, v) for k, v in lm.state_dict().items())
    hp = AttributeDict(lr=1e-4, name="tiny", betas=(0.9, 0.999))
    ckpt = {
        "epoch": 3,
        "global_step": 10,
        "pytorch-lightning_version": "1.4.2",
        "state_dict": lsd,
        "callbacks": {ModelCheckpoint: {"best_model_score": torch.tensor(0.25), "best_model_path": "/x/last.ckpt"}},
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [{"base_lrs": [1e-4], "last_epoch": 10, "_step_count": 11, "lr_lambdas": [None]}],
        "hparams_name": "kwargs",
        "hyper_parameters": hp,
        "extra": {"ns": argparse.Namespace(a=1, b=[1, 2]), "big": 2 ** 70, "neg": -3, "set": {1, 2}, "bytes": b"\x00\xff"},
    }
    save("lightning.ckpt", ckpt)
    expected["lightning.ckpt"] = {
        "tensors": record(lsd),
        "metadata": {"epoch": "3", "global_step": "10", "pytorch-lightning_version": "1.4.2", "hparams_name": "kwargs"},
    }
    for n in mod_names:
        del sys.modules[n]

    # Every dtype, scalars, empty tensors, and an int64 value outside int32.
    dt = collections.OrderedDict(
        f64=torch.tensor([1.0 / 3.0, -2.5, 1e-40], dtype=torch.float64),
        i64=torch.tensor([0, -5, 2 ** 31 - 1, -2 ** 31], dtype=torch.int64),
        i32=torch.tensor([[7, -9], [100000, -1]], dtype=torch.int32),
        i16=torch.tensor([-32768, 32767], dtype=torch.int16),
        i8=torch.tensor([-128, 5], dtype=torch.int8),
        u8=torch.tensor([0, 200, 255], dtype=torch.uint8),
        bool=torch.tensor([True, False, True]),
        scalar=torch.tensor(2.5),
        empty=torch.zeros(0, 3),
    )
    save("dtypes.pt", {**dt, "big_i64": torch.tensor([2 ** 40], dtype=torch.int64)})
    expected["dtypes.pt"] = {"tensors": record(dt), "big_i64": "big_i64"}

    # Non-contiguous views: the whole storage is saved once, each view has its own offset/stride.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
    views = collections.OrderedDict(
        base=base,
        t=base.t(),
        slice=base[1:3, 2:5],
        step=base[::2, ::3],
        expand=torch.tensor([1.0, 2.0, 3.0]).expand(2, 3),
        permute=(torch.arange(24, dtype=torch.float16).reshape(2, 3, 4) - 12).permute(2, 0, 1),
        col=base[:, 4],
        i64t=torch.arange(6, dtype=torch.int64).reshape(2, 3).t(),
    )
    save("views.pt", views)
    expected["views.pt"] = {"tensors": record(views)}

    # Parameters (not a state dict) nested BasicSR-style: {'params_ema': {...}}.
    w = torch.nn.Parameter(torch.tensor([[1.0, -1.0], [0.5, 0.0]]))
    nested = {"params_ema": {"body.weight": w, "body.bias": torch.nn.Parameter(torch.tensor([0.25, 4.0]))}, "iter": 5}
    save("nested.pth", nested)
    expected["nested.pth"] = {"tensors": record({"params_ema.body.weight": w, "params_ema.body.bias": nested["params_ema"]["body.bias"]})}

    # A harmless but unknown class beside the state dict: refused by default, accepted when declared inert.
    save("custom_global.ckpt", {"state_dict": {"w": torch.tensor([1.0, 2.0])}, "hyper_parameters": {"opt": Custom(3)}})
    expected["custom_global.ckpt"] = {"tensors": record({"w": torch.tensor([1.0, 2.0])})}

    # Legacy (pre-1.6, non-zip) serialization.
    torch.save({"w": torch.tensor([1.0])}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    # Zip variants of fp32.ckpt: deflated entries, ZIP64 records, a missing tensor data entry.
    entries = read_zip(os.path.join(OUT, "fp32.ckpt"))
    write_zip(os.path.join(OUT, "deflate.ckpt"), rename_top(entries, "archive"), zipfile.ZIP_DEFLATED)
    expected["deflate.ckpt"] = {"same_as": "fp32.ckpt"}
    saved = (zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT)
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0  # forces ZIP64 extra fields and end records
    try:
        write_zip(os.path.join(OUT, "zip64.ckpt"), rename_top(entries, "archive"))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    # Saturate the classic end record as a > 4 GB archive would, so readers must follow the ZIP64 locator.
    with open(os.path.join(OUT, "zip64.ckpt"), "r+b") as f:
        f.seek(-22, os.SEEK_END)
        assert f.read(4) == b"PK\x05\x06"
        f.seek(4, os.SEEK_CUR)
        f.write(struct.pack("<HHII", 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
    assert len(zipfile.ZipFile(os.path.join(OUT, "zip64.ckpt")).infolist()) == len(entries)
    expected["zip64.ckpt"] = {"same_as": "fp32.ckpt"}
    data_names = sorted(n for n, _ in entries if "/data/" in n)
    dropped = data_names[-1]
    write_zip(os.path.join(OUT, "missing_data.ckpt"), [(n, d) for n, d in entries if n != dropped])
    expected["missing_data.ckpt"] = {"missing_entry": dropped}

    # Hostile pickles, assembled opcode by opcode.
    hostile = {
        # protocol 2: GLOBAL os.system, REDUCE ('echo pwned',)
        "hostile_os_system.ckpt": b"\x80\x02cos\nsystem\nq\x00" + p_str("echo pwned") + b"\x85q\x01Rq\x02.",
        # protocol 4: STACK_GLOBAL builtins.eval, REDUCE ('1+1',)
        "hostile_eval.ckpt": b"\x80\x04" + p_short("builtins") + b"\x94" + p_short("eval") + b"\x94\x93\x94" + p_short("1+1") + b"\x94\x85\x94R\x94.",
        # a Lightning-looking dict with an empty state dict and posix.system hidden under 'callbacks'
        "hostile_posix.ckpt": b"\x80\x02}q\x00(" + p_str("state_dict") + b"}q\x01" + p_str("callbacks")
        + b"cposix\nsystem\nq\x02" + p_str("touch /tmp/pwned") + b"\x85q\x03Rq\x04u.",
    }
    for name, pkl in hostile.items():
        write_zip(os.path.join(OUT, name), [("hostile/data.pkl", pkl), ("hostile/version", b"3\n")])
    expected["hostile"] = {"hostile_os_system.ckpt": "os.system", "hostile_eval.ckpt": "builtins.eval", "hostile_posix.ckpt": "posix.system"}

    write_safetensors_halves()
    write_diffusers()

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        # One line per file keeps the checked-in JSON small and diffable.
        f.write("{\n" + ",\n".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":")) for k, v in sorted(expected.items())) + "\n}\n")


class Custom:
    def __init__(self, n):
        self.n = n


# ---- safetensors written byte by byte (no safetensors package needed) ----
def st_bytes(tensors):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, off = {}, 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"))
    h += " " * ((8 - (8 + len(h)) % 8) % 8)
    return struct.pack("<Q", len(h)) + h.encode() + b"".join(r for *_, r in tensors)


def bf16_bytes(values):
    bits = np.array(values, dtype=np.float32).view(np.uint32)
    assert np.all(bits & 0xFFFF == 0), "bf16 test values must be exactly representable"
    return (bits >> 16).astype("<u2").tobytes()


def write_safetensors_halves():
    h = [1.0, -0.5, 0.333251953125, 65504.0, 6.103515625e-05, -0.0]
    b = [1.0, -2.0, 3.140625, 256.0, -0.0078125]
    tensors = [
        ("h", "F16", [2, 3], np.array(h, dtype="<f2").tobytes()),
        ("b", "BF16", [5], bf16_bytes(b)),
        ("i64", "I64", [2], np.array([-3, 2 ** 31 - 1], dtype="<i8").tobytes()),
    ]
    with open(os.path.join(OUT, "halves.safetensors"), "wb") as f:
        f.write(st_bytes(tensors))
    expected["halves.safetensors"] = {"tensors": {
        "h": {"dtype": "F16", "shape": [2, 3], "values": [float(v) for v in np.array(h, dtype=np.float16)]},
        "b": {"dtype": "BF16", "shape": [5], "values": b},
        "i64": {"dtype": "I64", "shape": [2], "values": [-3, 2 ** 31 - 1]},
    }}


def f32_st(name_values):
    return st_bytes([(n, "F32", list(np.shape(v)), np.array(v, dtype="<f4").tobytes()) for n, v in name_values])


def write_diffusers():
    root = os.path.join(OUT, "diffusers_tiny")
    shutil.rmtree(root, ignore_errors=True)
    for d in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]:
        os.makedirs(os.path.join(root, d))
    with open(os.path.join(root, "model_index.json"), "w") as f:
        json.dump({
            "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.0",
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
            "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
            "scheduler": ["diffusers", "DDIMScheduler"], "safety_checker": [None, None],
        }, f, indent=1)
    for d in ["unet", "vae", "text_encoder"]:
        with open(os.path.join(root, d, "config.json"), "w") as f:
            json.dump({"_class_name": d}, f)
    with open(os.path.join(root, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"num_train_timesteps": 1000}, f)
    with open(os.path.join(root, "tokenizer", "vocab.json"), "w") as f:
        json.dump({"a": 0}, f)

    tensors = {}
    # unet: sharded safetensors with an index.
    s1 = [("conv_in.weight", [[0.5, -1.0], [2.0, 0.25]]), ("conv_in.bias", [1.5, -2.5])]
    s2 = [("time_embedding.linear_1.weight", [[0.125, 4.0, -8.0]])]
    files = {"diffusion_pytorch_model-00001-of-00002.safetensors": s1, "diffusion_pytorch_model-00002-of-00002.safetensors": s2}
    weight_map = {}
    for fname, vals in files.items():
        with open(os.path.join(root, "unet", fname), "wb") as f:
            f.write(f32_st(vals))
        for n, v in vals:
            weight_map[n] = fname
            tensors["unet." + n] = {"dtype": "F32", "shape": list(np.shape(v)), "values": np.array(v, dtype=np.float32).flatten().tolist()}
    with open(os.path.join(root, "unet", "diffusion_pytorch_model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 28}, "weight_map": weight_map}, f, indent=1)
    # vae: full-precision file plus an fp16 variant with different values (to see which one was chosen).
    vae32 = [("decoder.conv_out.weight", [1.0, 2.0, 3.0])]
    with open(os.path.join(root, "vae", "diffusion_pytorch_model.safetensors"), "wb") as f:
        f.write(f32_st(vae32))
    with open(os.path.join(root, "vae", "diffusion_pytorch_model.fp16.safetensors"), "wb") as f:
        f.write(st_bytes([("decoder.conv_out.weight", "F16", [3], np.array([-1.0, -2.0, 0.5], dtype="<f2").tobytes())]))
    tensors["vae.decoder.conv_out.weight"] = {"dtype": "F32", "shape": [3], "values": [1.0, 2.0, 3.0]}
    expected["diffusers_tiny_vae_fp16"] = {"dtype": "F16", "shape": [3], "values": [-1.0, -2.0, 0.5]}
    # text_encoder: a torch zip .bin.
    te = collections.OrderedDict([("text_model.embeddings.position_ids", torch.arange(4).reshape(1, 4)),
                                  ("text_model.final_layer_norm.weight", torch.tensor([1.0, 0.5, -0.75]))])
    torch.save(te, os.path.join(root, "text_encoder", "pytorch_model.bin"))
    for k, v in record(te).items():
        tensors["text_encoder." + k] = v
    expected["diffusers_tiny"] = {"tensors": tensors}


if __name__ == "__main__":
    main()
