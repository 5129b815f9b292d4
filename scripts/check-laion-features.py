#!/usr/bin/env python3
"""Compare clapset's fusion features with LAION-CLAP's own `get_audio_features`, crop for crop.

Usage: check-laion-features.py <dir> [--laion-src DIR] [--out summary.json] [--tolerance-db 0.05]

<dir> is what test/fixtures/fused-clap/write-inputs.ts and `clapset features` wrote: <name>.wav
(32-bit float, 48 kHz mono), <name>.npy (`clapset features --truncation fusion --seed N`) and
clips.json (each clip's seed, and the frame offsets clapset's seeded draws picked).

`get_mel` and `get_audio_features` are taken from LAION-CLAP's training/data.py (the CC0 copy in
--laion-src/training_data.py), parsed out of the file with `ast` and run unmodified — the module
itself imports webdataset, h5py, transformers and more that are not needed here. They run with
torch, torchaudio and torchvision as installed (Debian: 1.13.1, 0.13.1, 0.14.1), and with a numpy
whose `random.choice` returns clapset's crop offsets instead of a draw (each one checked to lie in
the third LAION's `np.array_split` gives it), so the two pipelines crop the same frames. LAION's
upstream `np.random.integers` (no such numpy function; it crops the *waveform*, which a fused model
does not use) is answered with 0.
"""
import argparse
import ast
import json
import os
import sys
import types
from contextlib import suppress

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
import torchvision

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUDIO_CFG = {'sample_rate': 48000, 'window_size': 1024, 'hop_size': 480, 'mel_bins': 64, 'fmin': 50, 'fmax': 14000}
MAX_LEN = 480000


def laion_functions(src):
    path = os.path.join(src, 'training_data.py')
    with open(path) as f:
        tree = ast.parse(f.read(), filename=path)
    wanted = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in ('get_mel', 'get_audio_features')]
    if len(wanted) != 2:
        raise SystemExit(f'{path}: get_mel and get_audio_features not found')
    return ast.Module(body=wanted, type_ignores=[]), path


class ForcedChoices:
    """numpy, except random.choice (clapset's offsets, in order, each checked against its range)."""

    def __init__(self, offsets):
        self.offsets = list(offsets)
        self.random = types.SimpleNamespace(choice=self.choice, integers=lambda lo, hi: 0)

    def choice(self, candidates):
        offset = self.offsets.pop(0)
        candidates = list(candidates)
        if offset not in candidates:
            raise AssertionError(f'clapset offset {offset} is outside LAION-CLAP\'s range [{candidates[0]}, {candidates[-1]}]')
        return offset

    def __getattr__(self, name):
        return getattr(np, name)


def read_float_wav(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != b'RIFF' or data[20:22] != b'\x03\x00':
        raise SystemExit(f'{path}: not the 32-bit float WAV write-inputs.ts writes')
    return np.frombuffer(data[44:], dtype='<f4').copy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('dir')
    parser.add_argument('--laion-src', default=os.path.join(REPO_ROOT, '..', 'shared', 'reference', 'laion-clap'))
    parser.add_argument('--out')
    parser.add_argument('--tolerance-db', type=float, default=0.05)
    parser.add_argument('--save-laion', action='store_true', help="also write LAION-CLAP's features as <name>.laion.npy[:longer] inputs")
    args = parser.parse_args()

    module, path = laion_functions(args.laion_src)
    with open(os.path.join(args.dir, 'clips.json')) as f:
        clips = json.load(f)
    summary = {'laion_source': os.path.relpath(path, REPO_ROOT), 'torch': torch.__version__, 'torchaudio': torchaudio.__version__,
               'torchvision': torchvision.__version__, 'tolerance_db': args.tolerance_db, 'clips': []}
    worst = 0.0
    for clip in clips:
        offsets = clip['crops'].get('frameOffsets', [])
        namespace = {'np': ForcedChoices(offsets), 'torch': torch, 'F': F, 'torchaudio': torchaudio, 'torchvision': torchvision, 'suppress': suppress}
        exec(compile(module, path, 'exec'), namespace)
        audio = torch.from_numpy(read_float_wav(os.path.join(args.dir, f"{clip['name']}.wav")))
        sample = namespace['get_audio_features']({}, audio, MAX_LEN, 'fusion', 'repeatpad', AUDIO_CFG)
        laion = sample['mel_fusion'].numpy()
        ours = np.load(os.path.join(args.dir, f"{clip['name']}.npy"))
        if laion.shape != ours.shape:
            raise SystemExit(f"{clip['name']}: LAION-CLAP {laion.shape}, clapset {ours.shape}")
        if args.save_laion:
            np.save(os.path.join(args.dir, f"{clip['name']}.laion.npy"), laion.astype(np.float32))
        per_view = [float(np.abs(laion[v].astype(np.float64) - ours[v]).max()) for v in range(4)]
        longer = bool(sample['longer'].item())
        entry = {'name': clip['name'], 'laion_longer': longer, 'clapset_longer': clip['longer'], 'frame_offsets': offsets,
                 'max_abs_diff_db_per_view': per_view, 'laion_db_range': [float(laion.min()), float(laion.max())]}
        summary['clips'].append(entry)
        worst = max(worst, *per_view)
        print(f"{clip['name']}: longer LAION {longer} / clapset {clip['longer']}, offsets {offsets}, "
              f"max |LAION - clapset| per view (dB): {', '.join(f'{d:.3g}' for d in per_view)}")
        if longer != clip['longer']:
            raise SystemExit(f"{clip['name']}: is_longer differs")
    summary['max_abs_diff_db'] = worst
    print(f'worst: {worst:.3g} dB (tolerance {args.tolerance_db} dB)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(summary, f, indent=2)
            f.write('\n')
    return 0 if worst <= args.tolerance_db else 1


if __name__ == '__main__':
    sys.exit(main())
