#!/usr/bin/env python3
# Times the OFFICIAL PyTorch StableSR code (github.com/IceClear/StableSR) on CPU at the shapes of bench/engines.ts,
# so its numbers can be set beside ours: one U-Net + SPADE forward (UNetModelDualcondV2, 64×64×4 latent, batch 1,
# timesteps [500], context [1,77,1024], struct_cond = the time-aware encoder's output dict for that latent) and one
# time-aware encoder forward (EncoderUNetModelWT), both built from configs/stableSRNew/v2-finetune_text_T_512.yaml
# with PyTorch's default random init (no checkpoint is read), fp32, eval mode, torch.no_grad().
# Prints one JSON line per network, in the field names of engines.ts:
#   {"net": "unet"|"structcond", "engine": "pytorch <version> cpu ×N", "firstCallSeconds", "seconds", "peakRssGiB"}
# `seconds` is the median of 3 calls after the first; `cpuSeconds` that call's CPU time (all threads), to tell a run
# disturbed by other processes (cpuSeconds ≪ threads × seconds). Each network runs in its own process (as in
# engines.ts), so its peak RSS is its own; the U-Net's process also builds the encoder (to make struct_cond) and drops
# it before building the U-Net.
#
# An optional measurement tool: not part of the library, its tests or CI, and nothing imports it.
#
# Run (Debian bookworm; the StableSR code is read from a checkout or export, never vendored here):
#   apt-get install -y python3-torch python3-omegaconf libopenblas0-openmp
#     (without an OpenBLAS package Debian's torch runs its linears and attention matmuls on the unoptimised
#      reference BLAS, libblas3: that would not be the official code's speed)
#   einops is not packaged in bookworm: `pip install einops`, or unzip its wheel into a folder and pass --pythonpath.
#   mkdir -p /tmp/StableSR && git --git-dir=<StableSR mirror> archive HEAD | tar -x -C /tmp/StableSR   (or a clone)
#   /usr/bin/python3 packages/stablesr/bench/pytorchReference.py --repo /tmp/StableSR --threads 2 [--pythonpath DIR]
#   Options: --net unet|structcond (default both), --threads N (default: all cores).
import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
import types

CONFIG = 'configs/stableSRNew/v2-finetune_text_T_512.yaml'


def stub_unused_imports():
    # ldm/modules/diffusionmodules/openaimodel.py does `from basicsr.archs.stylegan2_arch import ConvLayer,
    # EqualConv2d` and never uses either name. Importing it runs basicsr/__init__.py, which imports all of basicsr
    # (data, losses, models: cv2, lmdb, …) and basicsr.ops (CUDA extensions), none of which the two networks use;
    # so that one module is replaced by an empty stand-in. Nothing else is stubbed: xformers is already optional in
    # the official code (try/except import; without it the vanilla softmax CrossAttention is used, as on CPU).
    stub = types.ModuleType('basicsr.archs.stylegan2_arch')

    class _Unused:  # never instantiated by UNetModelDualcondV2 or EncoderUNetModelWT
        def __init__(self, *a, **k):
            raise RuntimeError('basicsr.archs.stylegan2_arch is stubbed by pytorchReference.py')

    stub.ConvLayer = stub.EqualConv2d = _Unused
    for name in ('basicsr', 'basicsr.archs'):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules.setdefault(name, pkg)
    sys.modules['basicsr.archs.stylegan2_arch'] = stub


def load_config(repo):
    path = os.path.join(repo, CONFIG)
    try:
        from omegaconf import OmegaConf
        return OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except ImportError:
        import yaml
        with open(path) as f:
            return yaml.safe_load(f)


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def child(args):
    import torch
    torch.set_num_threads(args.threads)
    stub_unused_imports()
    from ldm.util import instantiate_from_config  # the official builder: target + params from the YAML

    params = load_config(args.repo)['model']['params']
    torch.manual_seed(0)
    x = torch.randn(1, 4, 64, 64)
    t = torch.tensor([500])
    context = torch.randn(1, 77, 1024)

    def build(section):
        m = instantiate_from_config(params[section]).float().eval()
        for p in m.parameters():
            p.requires_grad_(False)
        return m

    with torch.no_grad():
        enc = build('structcond_stage_config')
        if args.net == 'unet':
            # UNetModelDualcondV2.forward(x, timesteps, context, struct_cond): struct_cond is the dict
            # EncoderUNetModelWT returns, keyed by feature width ('64', '32', '16', '8'), each [1, 256, w, w].
            struct_cond = enc(x, t)
            del enc
            gc.collect()
            net = build('unet_config')
            fwd = lambda: net(x, t, context=context, struct_cond=struct_cond)
        else:
            net = enc
            fwd = lambda: net(x, t)

        def run():
            t0, c0 = time.perf_counter(), time.process_time()
            out = fwd()
            return time.perf_counter() - t0, time.process_time() - c0, out

        first, _, out = run()
        calls = sorted(run()[:2] for _ in range(3))
    shapes = {k: list(v.shape) for k, v in out.items()} if isinstance(out, dict) else list(out.shape)
    print(json.dumps({
        'net': args.net,
        'engine': f'pytorch {torch.__version__} cpu ×{torch.get_num_threads()}',
        'firstCallSeconds': first,
        'seconds': calls[1][0],
        # CPU seconds (all threads) of that call: well under threads × seconds means other processes took the cores.
        'cpuSeconds': calls[1][1],
        'peakRssGiB': peak_rss_gib(),
        'params': sum(p.numel() for p in net.parameters()),
        'outShape': shapes,
    }, ensure_ascii=False), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--repo', required=True, help='a checkout or export of github.com/IceClear/StableSR')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--net', choices=['unet', 'structcond'], help='one network (default: both, one process each)')
    ap.add_argument('--pythonpath', action='append', default=[], help='extra import folder (e.g. an unpacked einops)')
    args = ap.parse_args()
    args.repo = os.path.abspath(args.repo)
    sys.path[:0] = [args.repo, *args.pythonpath]
    if args.net:
        child(args)
        return
    for net in ('unet', 'structcond'):
        cmd = [sys.executable, os.path.abspath(__file__), '--repo', args.repo, '--threads', str(args.threads), '--net', net]
        for p in args.pythonpath:
            cmd += ['--pythonpath', p]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        line = next((l for l in r.stdout.splitlines() if l.startswith('{')), None)
        print(line if line else json.dumps({'net': net, 'failed': r.returncode}), flush=True)


if __name__ == '__main__':
    main()
