#!/usr/bin/env python3
"""Export a *fused* CLAP checkpoint to the ONNX folder layout clapset loads, and check it.

clapset (workers/embed/clap-model.ts, clap-embedder.ts; docs/embeddings.md) loads a folder

    config.json                 audio_config.enable_fusion: true  -> 4 views, HTK filters, truncation fusion
    preprocessor_config.json    truncation "fusion", padding "repeatpad", CLAP's front-end numbers
    tokenizer.json tokenizer_config.json special_tokens_map.json
    onnx/audio_model.onnx       input_features float32 [audio_batch_size, num_channels(=4), height(=1001), width(=64)]
                                is_longer      bool    [audio_batch_size, 1]
                                -> audio_embeds float32 [batch_size, projection_dim]   (before L2 normalisation)
    onnx/text_model.onnx        input_ids int64 [batch_size, sequence_length] -> text_embeds float32 [batch_size, projection_dim]

No off-the-shelf ONNX export of a fused CLAP exists: optimum has no fused CLAP config, and both
LAION-CLAP (htsat.py `PatchEmbed.forward`, `HTSAT_Swin_Transformer.forward`) and transformers
(`ClapAudioPatchEmbed.forward`) pick the clips to fuse with `torch.where(is_longer)[0]` and Python
`if len(idx) > 0` / `if longer.sum() == 0` branches, which tracing freezes to the example batch. This
script swaps the fused patch embedding for `BranchFreeFusedPatchEmbed`: it computes the local
(3-crop) branch and the attentional feature fusion (AFF) for every clip of the batch, and keeps the
fused or the plain global patches per clip with `torch.where(is_longer, fused, global)`. Every other
module is the checkpoint's own. In eval mode every layer involved (convolutions, BatchNorm with
running statistics, per-sample pooling) treats the clips of a batch independently, so this is the
same function as the original per-sample indexing; the check mode proves it numerically, against
the *unmodified* PyTorch model, for each clip alone, for the batch together and with is_longer
flipped (both branches).

Sources:
  hf <dir|hub id>   a checkpoint in transformers' format: `laion/clap-htsat-fused`, or LAION's
                    `630k-fusion-best.pt` / `630k-audioset-fusion-best.pt` converted first with the
                    script transformers ships (it imports `laion_clap`: pip install laion_clap):
                        python src/transformers/models/clap/convert_clap_original_pytorch_to_hf.py \
                            --checkpoint_path 630k-fusion-best.pt --pytorch_dump_folder_path clap-fused-hf \
                            --enable_fusion --model_type HTSAT-tiny
                    That folder has no tokenizer: add --processor laion/clap-htsat-fused.
                    Needs `transformers`. Writes audio and text graphs, tokenizer and configs.
  tiny-laion        a shrunken HTSAT with fusion (aff_2d) built from LAION-CLAP's own source
                    (--laion-src: a copy of LAION-AI/CLAP src/laion_clap/clap_module, e.g.
                    ../shared/reference/laion-clap), random seeded weights, plus LAION's
                    audio_projection (model.py). Writes the audio graph and configs only: LAION's text
                    branch is transformers' RoBERTa, not available where this is proven.
                    This is what test/fixtures/fused-clap/ was made with.

Check mode (--check [FEATURES.npy[:longer] ...]): runs ONNX Runtime on the export (the Python
`onnxruntime` package when installed, else scripts/onnx-run.mjs with the repository's
onnxruntime-node) and compares with the unmodified PyTorch model. Features are what
`clapset features <audio> --out f.npy --truncation fusion --seed N` writes; `:1`/`:0` gives
is_longer, else it is inferred (four identical views <=> not longer, as clapset and LAION-CLAP make
them). Without files, seeded random features are used. --report writes every embedding and diff.

Examples:
  python3 scripts/export-clap-onnx.py hf laion/clap-htsat-fused --out models/laion/clap-htsat-fused --check f3.npy f37.npy
  /usr/bin/python3 scripts/export-clap-onnx.py tiny-laion --laion-src ../shared/reference/laion-clap \
      --seed 20261203 --out /tmp/tiny --check a.npy b.npy --report /tmp/report.json

LAION-CLAP is CC0 1.0 (github:LAION-AI/CLAP); its modules are imported from --laion-src, not copied.
"""
import argparse
import copy
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# clapset's CLAP front end (workers/embed/mel-config.ts) = LAION-CLAP audio_cfg (model_configs/HTSAT-*.json).
CLAP_FRONT_END = {
    'sampling_rate': 48000,
    'feature_size': 64,
    'fft_window_size': 1024,
    'hop_length': 480,
    'frequency_min': 50,
    'frequency_max': 14000,
    'nb_max_samples': 480000,
}
CHUNK_FRAMES = 1001
VIEWS = 4
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------------------------
# The branch-free fused patch embedding
# ------------------------------------------------------------------------------------------------

class BranchFreeFusedPatchEmbed(nn.Module):
    """HTSAT's fused patch embedding (fusion_type aff_2d) without per-sample Python branching.

    Wraps LAION-CLAP `htsat.PatchEmbed` or transformers `ClapAudioPatchEmbed` (same sub-modules:
    proj, mel_conv2d, fusion_model, norm, flatten) and computes, for the whole batch,

        global = proj(x[:, 0:1])                              the shrunk whole clip
        local  = mel_conv2d(each of x[:, 1:4]) -> (B, C, H', 3*W'), zero-padded/cut to global's width
        fused  = fusion_model(global, local)                  AFF
        out    = where(is_longer, fused, global)

    where the originals index `x[longer_idx]` and skip the local branch when no clip is longer.
    `is_longer` is set by the wrapper before each call (the encoder passes its index list, unused).
    """

    def __init__(self, original):
        super().__init__()
        self.proj = original.proj
        self.mel_conv2d = original.mel_conv2d
        self.fusion_model = original.fusion_model
        self.norm = original.norm
        self.flatten = original.flatten
        self.is_longer = None

    def forward(self, x, longer_idx=None):  # noqa: ARG002 (the encoder's index list, replaced by the mask)
        if self.is_longer is None:
            raise RuntimeError('BranchFreeFusedPatchEmbed: is_longer was not set by the wrapper')
        mask = self.is_longer.reshape(-1).to(torch.bool)
        global_x = self.proj(x[:, 0:1, :, :])
        _, features, out_h, out_w = global_x.shape
        local = x[:, 1:, :, :]
        views, height, width = local.shape[1], local.shape[2], local.shape[3]
        local = self.mel_conv2d(local.reshape(-1, 1, height, width))
        _, lf, lh, lw = local.shape
        local = local.reshape(-1, views, lf, lh, lw).permute(0, 2, 3, 1, 4).flatten(3)
        local_w = views * lw
        if local_w < out_w:
            local = F.pad(local, (0, out_w - local_w), 'constant', 0.0)
        elif local_w > out_w:
            local = local[:, :, :, :out_w]
        fused = self.fusion_model(global_x, local)
        x = torch.where(mask.reshape(-1, 1, 1, 1), fused, global_x)
        if self.flatten:
            x = x.flatten(2).transpose(1, 2)
        return self.norm(x)


class LaionFusedAudio(nn.Module):
    """LAION-CLAP's fused audio path at inference, as `CLAP.get_audio_embedding` runs it minus the
    normalisation: HTSAT_Swin_Transformer.forward (fusion, 2D: bn0 on the mel axis, reshape_wav2img,
    forward_features) -> ["embedding"] -> audio_projection. The Python branches of
    HTSAT_Swin_Transformer.forward on `longer` are replaced by the mask in the patch embedding."""

    def __init__(self, htsat, projection):
        super().__init__()
        self.htsat = copy.deepcopy(htsat)
        self.htsat.patch_embed = BranchFreeFusedPatchEmbed(self.htsat.patch_embed)
        self.projection = copy.deepcopy(projection)

    def forward(self, input_features, is_longer):
        x = input_features.transpose(1, 3)
        x = self.htsat.bn0(x)
        x = x.transpose(1, 3)
        x = self.htsat.reshape_wav2img(x)
        self.htsat.patch_embed.is_longer = is_longer
        out = self.htsat.forward_features(x, longer_idx=None)
        return self.projection(out['embedding'])


class LaionReference(nn.Module):
    """The unmodified LAION-CLAP model: HTSAT's own forward (with its torch.where / len(idx) branches)."""

    def __init__(self, htsat, projection):
        super().__init__()
        self.htsat = htsat
        self.projection = projection

    def forward(self, input_features, is_longer):
        out = self.htsat({'mel_fusion': input_features, 'longer': is_longer.reshape(-1, 1)}, device=input_features.device)
        return self.projection(out['embedding'])


class HfFusedAudio(nn.Module):
    """transformers' ClapAudioModelWithProjection with the fused patch embedding made branch-free."""

    def __init__(self, model):
        super().__init__()
        self.model = copy.deepcopy(model)
        encoder = self.model.audio_model.audio_encoder
        encoder.patch_embed = BranchFreeFusedPatchEmbed(encoder.patch_embed)
        self.patch_embed = encoder.patch_embed

    def forward(self, input_features, is_longer):
        self.patch_embed.is_longer = is_longer
        return self.model(input_features=input_features, is_longer=is_longer.reshape(-1, 1)).audio_embeds


class HfReference(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_features, is_longer):
        return self.model(input_features=input_features, is_longer=is_longer.reshape(-1, 1)).audio_embeds


class HfText(nn.Module):
    """ClapTextModelWithProjection as the published text graphs declare it: input_ids only."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids).text_embeds


# ------------------------------------------------------------------------------------------------
# Building the models
# ------------------------------------------------------------------------------------------------

def import_laion_htsat(src):
    """Imports htsat.py (and its feature_fusion.py, utils.py) from a LAION-CLAP clap_module copy as a
    package. torchlibrosa (the waveform front end, unused when the model gets mel_fusion), h5py and
    tqdm (imported by utils.py, unused here) are shimmed when they are not installed."""
    src = os.path.abspath(src)
    if not os.path.isfile(os.path.join(src, 'htsat.py')):
        raise SystemExit(f'--laion-src {src}: no htsat.py (want LAION-AI/CLAP src/laion_clap/clap_module)')

    class _Unused(nn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()

        def forward(self, *args, **kwargs):
            raise RuntimeError('torchlibrosa shim: the waveform front end is not part of the fused export')

    for name in ('torchlibrosa', 'h5py', 'tqdm'):
        try:
            importlib.import_module(name)
        except ImportError:
            shim = types.ModuleType(name)
            if name == 'torchlibrosa':
                stft, aug = types.ModuleType('torchlibrosa.stft'), types.ModuleType('torchlibrosa.augmentation')
                stft.Spectrogram = stft.LogmelFilterBank = _Unused
                aug.SpecAugmentation = _Unused
                shim.stft, shim.augmentation = stft, aug
                sys.modules['torchlibrosa.stft'], sys.modules['torchlibrosa.augmentation'] = stft, aug
            if name == 'tqdm':
                shim.tqdm = lambda it=None, *a, **k: it
            sys.modules[name] = shim
    package = types.ModuleType('laion_clap_module')
    package.__path__ = [src]
    sys.modules['laion_clap_module'] = package
    return importlib.import_module('laion_clap_module.htsat')


class dynamic_window_reverse:
    """While exporting: htsat.window_reverse computes the batch size with Python
    `int(windows.shape[0] / ...)`, which tracing freezes to the example batch; swap in the same
    arithmetic with the batch left to view(-1, ...). The reference model keeps the original."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.original = self.module.window_reverse
        self.module.window_reverse = window_reverse_dynamic

    def __exit__(self, *exc):
        self.module.window_reverse = self.original


def window_reverse_dynamic(windows, window_size, H, W):
    """LAION-CLAP htsat.window_reverse with the batch dimension inferred by view(-1, ...)."""
    x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, windows.shape[-1])
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, windows.shape[-1])


def tiny_laion_model(src, seed, projection_dim):
    """A shrunken fused HTSAT + LAION's audio_projection, random weights from `seed`.

    Same architecture code as LAION's HTSAT-tiny (create_htsat_model: spec_size 256, patch 4, stride
    (4, 4), window 8, fusion_type aff_2d) with embed_dim 8 instead of 96, depths [1, 2, 2, 2] instead
    of [2, 2, 6, 2] and heads [2, 2, 4, 4]; the projection is model.py's
    Sequential(Linear(embed, joint), ReLU, Linear(joint, joint)) (mlp_act relu)."""
    htsat_module = import_laion_htsat(src)
    with open(os.path.join(src, 'model_configs', 'HTSAT-tiny.json')) as f:
        audio_cfg = types.SimpleNamespace(**json.load(f)['audio_cfg'])
    torch.manual_seed(seed)
    model = htsat_module.HTSAT_Swin_Transformer(
        spec_size=256, patch_size=4, patch_stride=(4, 4), num_classes=8, embed_dim=8,
        depths=[1, 2, 2, 2], num_heads=[2, 2, 4, 4], window_size=8, config=audio_cfg,
        enable_fusion=True, fusion_type='aff_2d')
    projection = nn.Sequential(nn.Linear(model.num_features, projection_dim), nn.ReLU(), nn.Linear(projection_dim, projection_dim))
    generator = torch.Generator().manual_seed(seed)
    randomise(model, generator)
    randomise(projection, generator)
    # bn0 normalises each mel bin; give it statistics of log-mel in dB (roughly -100..+40), as a
    # trained checkpoint has, so the network sees inputs of unit scale.
    with torch.no_grad():
        model.bn0.running_mean.copy_(-45 + 10 * torch.randn(64, generator=generator))
        model.bn0.running_var.copy_((20 + 5 * torch.rand(64, generator=generator)) ** 2)
    model.eval()
    projection.eval()
    return model, projection, htsat_module


def randomise(module, generator):
    """Weights of unit-scale activations (std 1/sqrt(fan_in)), non-trivial biases, BatchNorm running
    statistics and affine parameters, LayerNorm gains: every parameter matters to the output."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) / fan_in ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=generator))
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
            if hasattr(m, 'relative_position_bias_table'):
                m.relative_position_bias_table.copy_(0.5 * torch.randn(m.relative_position_bias_table.shape, generator=generator))


def load_hf(source, processor_source):
    try:
        from transformers import ClapAudioModelWithProjection, ClapConfig, ClapProcessor, ClapTextModelWithProjection
    except ImportError as error:
        raise SystemExit(f'the hf source needs transformers ({error}); pip install transformers') from error
    config = ClapConfig.from_pretrained(source)
    if not config.audio_config.enable_fusion:
        raise SystemExit(f'{source}: audio_config.enable_fusion is false — an unfused checkpoint; export it with '
                         'transformers.js scripts/extra/clap.py (the Xenova layout) instead')
    fusion_type = getattr(config.audio_config, 'fusion_type', None)
    if fusion_type not in (None, 'aff_2d'):
        raise SystemExit(f'{source}: fusion_type {fusion_type!r}; transformers implements aff_2d only')
    audio = ClapAudioModelWithProjection.from_pretrained(source).eval()
    text = ClapTextModelWithProjection.from_pretrained(source).eval()
    # transformers' conversion script saves the model and config only: take the tokenizer and feature
    # extractor settings from --processor then (laion/clap-htsat-fused; both use roberta-base's tokenizer).
    processor = ClapProcessor.from_pretrained(processor_source or source)
    return config, audio, text, processor


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------

AUDIO_AXES = {
    'input_features': {0: 'audio_batch_size', 1: 'num_channels', 2: 'height', 3: 'width'},
    'is_longer': {0: 'audio_batch_size'},
    'audio_embeds': {0: 'batch_size'},
}


def example_batch(generator):
    """Three clips, mixed is_longer: tracing sees a batch > 1 (LAION's AFF duplicates a batch of one
    with a Python `if xa.size(0) == 1`, which would otherwise be frozen into the graph) and both values."""
    x = -45 + 20 * torch.randn((3, VIEWS, CHUNK_FRAMES, 64), generator=generator)
    longer = torch.tensor([[True], [False], [True]])
    return x, longer


def legacy_exporter():
    """torch >= 2.9 defaults torch.onnx.export to the dynamo exporter; this script is written for the
    TorchScript one (dynamic_axes, traced shapes), which older versions only have."""
    import inspect
    return {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}


def export_audio(wrapper, path, opset):
    generator = torch.Generator().manual_seed(0)
    x, longer = example_batch(generator)
    with torch.no_grad():
        torch.onnx.export(wrapper, (x, longer), path, input_names=['input_features', 'is_longer'],
                          output_names=['audio_embeds'], dynamic_axes=AUDIO_AXES, opset_version=opset,
                          do_constant_folding=True, **legacy_exporter())


def export_text(wrapper, path, opset, vocab_size):
    ids = torch.randint(3, vocab_size, (2, 9), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 0, 2
    with torch.no_grad():
        torch.onnx.export(wrapper, (ids,), path, input_names=['input_ids'], output_names=['text_embeds'],
                          dynamic_axes={'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'text_embeds': {0: 'batch_size'}},
                          opset_version=opset, do_constant_folding=True, **legacy_exporter())


def preprocessor_config(source_values=None):
    """HF ClapFeatureExtractor settings with clapset's (= LAION-CLAP's) front-end numbers and fusion."""
    values = dict(source_values or {})
    for key, expected in CLAP_FRONT_END.items():
        if key in values and values[key] != expected:
            print(f'warning: the source preprocessor_config.json has {key} = {values[key]!r}; LAION-CLAP trained '
                  f'with {expected} (audio_cfg), which clapset computes — writing {expected}', file=sys.stderr)
    values.update({
        'feature_extractor_type': 'ClapFeatureExtractor', **CLAP_FRONT_END,
        'max_length_s': 10, 'padding': 'repeatpad', 'truncation': 'fusion', 'top_db': None,
    })
    values.setdefault('processor_class', 'ClapProcessor')
    return values


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)
        f.write('\n')


# ------------------------------------------------------------------------------------------------
# Check: ONNX Runtime against the unmodified PyTorch model
# ------------------------------------------------------------------------------------------------

def read_npy_features(spec):
    path, _, flag = spec.partition(':') if spec.count(':') == 1 and spec.rsplit(':', 1)[1] in ('0', '1') else (spec, '', '')
    x = np.load(path).astype(np.float32)
    if x.shape != (VIEWS, CHUNK_FRAMES, 64):
        raise SystemExit(f'{path}: features of shape {x.shape}, want ({VIEWS}, {CHUNK_FRAMES}, 64) (clapset features --truncation fusion)')
    longer = bool(int(flag)) if flag else not all(np.array_equal(x[0], x[i]) for i in range(1, VIEWS))
    return os.path.basename(path), x, longer


def onnx_runner(model_path):
    try:
        import onnxruntime
        session = onnxruntime.InferenceSession(model_path, providers=['CPUExecutionProvider'])
        return lambda feeds: session.run(None, feeds)[0], 'onnxruntime (Python) ' + onnxruntime.__version__
    except ImportError:
        pass
    helper = os.path.join(REPO_ROOT, 'scripts', 'onnx-run.mjs')

    def run(feeds):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, 'in'))
            for name, value in feeds.items():
                np.save(os.path.join(tmp, 'in', f'{name}.npy'), value)
            subprocess.run(['node', helper, model_path, os.path.join(tmp, 'in'), os.path.join(tmp, 'out')],
                           check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
            outputs = sorted(os.listdir(os.path.join(tmp, 'out')))
            return np.load(os.path.join(tmp, 'out', outputs[0]))
    return run, 'onnxruntime-node (scripts/onnx-run.mjs)'


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def check_audio(reference, model_path, clips, tolerance):
    """Each clip alone, all clips in one batch, and each with is_longer flipped (the other branch)."""
    run, runtime = onnx_runner(model_path)
    report = {'runtime': runtime, 'torch': torch.__version__, 'tolerance_unit_embeddings': tolerance, 'clips': [], 'batches': []}
    worst = 0.0

    def torch_embed(x, longer):
        with torch.no_grad():
            return reference(torch.from_numpy(x), torch.from_numpy(longer)).numpy()

    def compare(label, x, longer):
        nonlocal worst
        pt = torch_embed(x, longer)
        ox = run({'input_features': x, 'is_longer': longer})
        raw = float(np.abs(pt - ox).max())
        normed = float(np.abs(unit(pt) - unit(ox)).max())
        worst = max(worst, normed)
        print(f'  {label:<40} max |torch - onnx|: raw {raw:.3g}, unit-norm {normed:.3g}')
        return pt, raw, normed

    print(f'check: {runtime} vs the unmodified PyTorch model ({len(clips)} inputs)')
    for name, x, longer in clips:
        entry = {'name': name, 'is_longer': longer}
        for flip in (False, True):
            value = longer != flip
            pt, raw, normed = compare(f'{name} is_longer={value}' + (' (flipped)' if flip else ''), x[None], np.array([[value]]))
            key = 'flipped' if flip else 'actual'
            entry[key] = {'is_longer': value, 'torch_audio_embeds': pt[0].tolist(), 'torch_unit_embedding': unit(pt)[0].tolist(),
                          'max_abs_diff_raw': raw, 'max_abs_diff_unit': normed}
        report['clips'].append(entry)
    # One batch of every clip, then one of every clip twice (actual and flipped is_longer): batch
    # sizes other than the traced example's 3, with both branches side by side.
    batches = [('all clips in one batch', [(c[0], c[1], c[2]) for c in clips]),
               ('actual + flipped in one batch', [(c[0], c[1], c[2]) for c in clips] + [(c[0] + ' flipped', c[1], not c[2]) for c in clips])]
    for label, members in batches:
        x = np.stack([m[1] for m in members])
        longer = np.array([[m[2]] for m in members])
        _, raw, normed = compare(f'{label} ({len(members)})', x, longer)
        report['batches'].append({'names': [m[0] for m in members], 'is_longer': [m[2] for m in members],
                                  'max_abs_diff_raw': raw, 'max_abs_diff_unit': normed})
    for entry in report['clips']:
        a, b = np.array(entry['actual']['torch_unit_embedding']), np.array(entry['flipped']['torch_unit_embedding'])
        entry['unit_diff_actual_vs_flipped'] = float(np.abs(a - b).max())
        print(f"  {entry['name']:<40} is_longer matters: max |actual - flipped| = {entry['unit_diff_actual_vs_flipped']:.3g}")
    report['max_abs_diff_unit'] = worst
    print(f'check: worst unit-norm difference {worst:.3g} (tolerance {tolerance:g})')
    return report, worst <= tolerance


def check_text(model, model_path, vocab_size, tolerance, tokenizer=None, captions=()):
    """Random ids in a batch, then each caption alone (tokenised as CLAP does: <s> ... </s>, at most 77)."""
    run, _ = onnx_runner(model_path)
    ids = torch.randint(3, vocab_size, (3, 13), generator=torch.Generator().manual_seed(1))
    ids[:, 0], ids[:, -1] = 0, 2
    with torch.no_grad():
        pt = model(ids).numpy()
    ox = run({'input_ids': ids.numpy().astype(np.int64)})
    worst = float(np.abs(unit(pt) - unit(ox)).max())
    texts = []
    for caption in captions:
        row = tokenizer(caption, truncation=True, max_length=77)['input_ids']
        ids = torch.tensor([row], dtype=torch.int64)
        with torch.no_grad():
            pt = model(ids).numpy()
        ox = run({'input_ids': ids.numpy()})
        diff = float(np.abs(unit(pt) - unit(ox)).max())
        worst = max(worst, diff)
        texts.append({'text': caption, 'input_ids': row, 'torch_text_embeds': pt[0].tolist(), 'torch_unit_embedding': unit(pt)[0].tolist(),
                      'max_abs_diff_unit': diff})
    print(f'check: text graph, max unit-norm difference {worst:.3g} ({len(captions)} captions + a random batch)')
    return worst <= tolerance, {'max_abs_diff_unit': worst, 'captions': texts}


def synthetic_clips(n=3):
    """Seeded random log-mel stand-ins: a short clip (four copies, not longer) and longer ones."""
    g = np.random.default_rng(7)
    clips = []
    for i in range(n):
        if i == 0:
            view = (-45 + 20 * g.standard_normal((CHUNK_FRAMES, 64))).astype(np.float32)
            clips.append((f'synthetic-{i}', np.stack([view] * VIEWS), False))
        else:
            clips.append((f'synthetic-{i}', (-45 + 20 * g.standard_normal((VIEWS, CHUNK_FRAMES, 64))).astype(np.float32), True))
    return clips


# ------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog='See the module docstring (and docs/embeddings.md, "Exporting a fused checkpoint").')
    parser.add_argument('source', choices=['hf', 'tiny-laion'])
    parser.add_argument('checkpoint', nargs='?', help='hf: a folder or hub id in transformers format (laion/clap-htsat-fused)')
    parser.add_argument('--out', required=True, help='the model folder to write')
    parser.add_argument('--processor', help='hf: where the tokenizer and preprocessor_config come from, if not the checkpoint '
                        '(a folder made by convert_clap_original_pytorch_to_hf.py has none: use laion/clap-htsat-fused)')
    parser.add_argument('--laion-src', default=os.path.join(REPO_ROOT, '..', 'shared', 'reference', 'laion-clap'),
                        help='tiny-laion: LAION-CLAP clap_module source folder (htsat.py, feature_fusion.py, utils.py, model_configs/)')
    parser.add_argument('--seed', type=int, default=20261203, help='tiny-laion: weight seed')
    parser.add_argument('--projection-dim', type=int, default=512, help='tiny-laion: joint embedding size (512 as CLAP)')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--check', nargs='*', metavar='FEATURES.npy[:longer]', default=None,
                        help='compare ONNX Runtime with PyTorch (clapset features files; none: seeded random features)')
    parser.add_argument('--check-text', nargs='*', default=[], metavar='CAPTION', help='hf: captions to check the text graph on (recorded in --report)')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='max |difference| of unit-norm embeddings')
    parser.add_argument('--report', help='write the check (every embedding, every difference) as JSON')
    args = parser.parse_args()

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    os.makedirs(os.path.join(args.out, 'onnx'), exist_ok=True)
    audio_path = os.path.join(args.out, 'onnx', 'audio_model.onnx')
    text_ok, text_report = True, None

    if args.source == 'tiny-laion':
        htsat, projection, htsat_module = tiny_laion_model(args.laion_src, args.seed, args.projection_dim)
        reference = LaionReference(htsat, projection).eval()
        with dynamic_window_reverse(htsat_module):
            export_audio(LaionFusedAudio(htsat, projection).eval(), audio_path, args.opset)
        write_json(os.path.join(args.out, 'config.json'), {
            'architectures': ['ClapModel'], 'model_type': 'clap', 'projection_dim': args.projection_dim,
            'projection_hidden_act': 'relu',
            'audio_config': {'model_type': 'clap_audio_model', 'enable_fusion': True, 'fusion_type': 'aff_2d',
                             'num_mel_bins': 64, 'spec_size': 256, 'patch_size': 4, 'patch_stride': [4, 4], 'window_size': 8,
                             'patch_embeds_hidden_size': 8, 'hidden_size': htsat.num_features, 'depths': [1, 2, 2, 2],
                             'num_attention_heads': [2, 2, 4, 4], 'projection_dim': args.projection_dim},
            'clapset_export': {'generator': 'scripts/export-clap-onnx.py tiny-laion', 'seed': args.seed, 'trained': False,
                               'laion_clap_source': 'LAION-AI/CLAP src/laion_clap/clap_module @ 1fd4c37d (htsat.py, feature_fusion.py)',
                               'torch': torch.__version__, 'opset': args.opset,
                               'audio_only': 'no text graph: LAION-CLAP text branch is transformers RoBERTa'},
        })
        write_json(os.path.join(args.out, 'preprocessor_config.json'), preprocessor_config())
        print(f'wrote {audio_path} ({os.path.getsize(audio_path)} bytes), config.json, preprocessor_config.json')
    else:
        if not args.checkpoint:
            parser.error('hf needs a checkpoint (folder or hub id)')
        config, audio, text, processor = load_hf(args.checkpoint, args.processor)
        reference = HfReference(audio).eval()
        export_audio(HfFusedAudio(audio).eval(), audio_path, args.opset)
        text_path = os.path.join(args.out, 'onnx', 'text_model.onnx')
        export_text(HfText(text).eval(), text_path, args.opset, config.text_config.vocab_size)
        config.save_pretrained(args.out)
        # tokenizer.json, tokenizer_config.json (+ special_tokens_map.json, preprocessor_config.json in
        # transformers 4; transformers 5 writes processor_config.json instead): clapset reads
        # preprocessor_config.json, so it is written from the feature extractor either way.
        processor.save_pretrained(args.out)
        write_json(os.path.join(args.out, 'preprocessor_config.json'), preprocessor_config(processor.feature_extractor.to_dict()))
        for name in ('tokenizer.json', 'tokenizer_config.json'):
            if not os.path.isfile(os.path.join(args.out, name)):
                raise SystemExit(f'{args.out}/{name} was not written (the processor needs a fast RoBERTa tokenizer)')
        print(f'wrote {audio_path}, {text_path}, configs and tokenizer to {args.out}')
        if args.check is not None:
            text_ok, text_report = check_text(HfText(text).eval(), text_path, config.text_config.vocab_size, args.tolerance,
                                              processor.tokenizer, args.check_text)

    if args.check is None:
        return 0
    clips = [read_npy_features(spec) for spec in args.check] if args.check else synthetic_clips()
    report, ok = check_audio(reference, audio_path, clips, args.tolerance)
    if text_report is not None:
        report['text'] = text_report
    if args.report:
        write_json(args.report, report)
    if not (ok and text_ok):
        print('check FAILED', file=sys.stderr)
        return 1
    print('check passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
