#!/bin/sh
# Regenerates test/fixtures/fused-clap/ (the proof that clapset's fusion input, is_longer, projection
# and normalisation agree with LAION-CLAP end to end; docs/embeddings.md "Exporting a fused checkpoint"):
#   1. the three clips (test/fixtures/fused-clap/clips.ts) as float WAV, and clapset's crop offsets
#   2. clapset's own features of them: `clapset features --truncation fusion --seed N`
#   3. a shrunken LAION-CLAP HTSAT with fusion (random seeded weights) exported by export-clap-onnx.py,
#      checked with ONNX Runtime against the unmodified PyTorch model on those features -> embeddings
#   4. LAION-CLAP's get_audio_features on the same clips with the same crops, against clapset's features
#   5. the same model fed LAION-CLAP's features instead of clapset's (whole independent pipeline)
# Needs: apt-get install -y python3-torch python3-torchaudio python3-torchvision python3-numpy; node.
# Usage: scripts/make-fused-clap-fixture.sh [laion-clap source dir]
set -eu
cd "$(dirname "$0")/.."
LAION_SRC=${1:-../shared/reference/laion-clap}
PY=${PYTHON:-/usr/bin/python3}
SEED=20261203
FIXTURE=test/fixtures/fused-clap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node --import tsx "$FIXTURE/write-inputs.ts" "$tmp" > /dev/null
for name in clip-3s clip-10s clip-37s; do
  seed=$(node -e "console.log(require('$tmp/clips.json').find((c) => c.name === '$name').seed)")
  CLAPSET_FROM_SOURCE=1 node bin/clapset features "$tmp/$name.wav" --out "$tmp/$name.npy" --truncation fusion --seed "$seed"
done

rm -rf "$FIXTURE/model"
"$PY" scripts/export-clap-onnx.py tiny-laion --laion-src "$LAION_SRC" --seed "$SEED" --out "$FIXTURE/model" \
  --check "$tmp/clip-3s.npy" "$tmp/clip-10s.npy" "$tmp/clip-37s.npy" --report "$tmp/report.json" 2> "$tmp/export.log" \
  || { cat "$tmp/export.log"; exit 1; }

"$PY" scripts/check-laion-features.py "$tmp" --laion-src "$LAION_SRC" --out "$FIXTURE/laion-features-check.json" --save-laion

"$PY" scripts/export-clap-onnx.py tiny-laion --laion-src "$LAION_SRC" --seed "$SEED" --out "$tmp/model-again" \
  --check "$tmp/clip-3s.laion.npy" "$tmp/clip-10s.laion.npy" "$tmp/clip-37s.laion.npy" --report "$tmp/report-laion.json" 2> "$tmp/export.log" \
  || { cat "$tmp/export.log"; exit 1; }
cmp "$FIXTURE/model/onnx/audio_model.onnx" "$tmp/model-again/onnx/audio_model.onnx"   # the export is deterministic

"$PY" - "$tmp" "$FIXTURE" "$SEED" <<'PYEOF'
import hashlib, json, sys
import numpy as np
tmp, fixture, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
clips = json.load(open(f'{tmp}/clips.json'))
report = json.load(open(f'{tmp}/report.json'))
laion = json.load(open(f'{tmp}/report-laion.json'))
r9 = lambda xs: [float(f'{x:.9g}') for x in xs]
out = {
    'what': 'PyTorch (unmodified LAION-CLAP HTSAT with fusion, shrunken, random weights) embeddings of clapset features; see README.md',
    'weights_seed': seed, 'torch': report['torch'], 'onnx_check_runtime': report['runtime'],
    'onnx_vs_torch_max_abs_diff_unit': report['max_abs_diff_unit'],
    'onnx_vs_torch_batches': report['batches'],
    'clips': [],
}
worst_pipeline = 0.0
for clip, entry, lentry in zip(clips, report['clips'], laion['clips']):
    npy = open(f"{tmp}/{clip['name']}.npy", 'rb').read()
    a = np.array(entry['actual']['torch_unit_embedding'])
    b = np.array(lentry['actual']['torch_unit_embedding'])
    pipeline = float(np.abs(a - b).max())
    worst_pipeline = max(worst_pipeline, pipeline)
    out['clips'].append({
        'name': clip['name'], 'seed': clip['seed'], 'samples': clip['samples'], 'crops': clip['crops'],
        'clapset_features_npy_sha256': hashlib.sha256(npy).hexdigest(),
        'is_longer': entry['actual']['is_longer'],
        'torch_unit_embedding': r9(entry['actual']['torch_unit_embedding']),
        'torch_audio_embeds': r9(entry['actual']['torch_audio_embeds']),
        'onnx_vs_torch_max_abs_diff_unit': entry['actual']['max_abs_diff_unit'],
        'flipped': {'is_longer': entry['flipped']['is_longer'], 'torch_unit_embedding': r9(entry['flipped']['torch_unit_embedding']),
                    'onnx_vs_torch_max_abs_diff_unit': entry['flipped']['max_abs_diff_unit']},
        'unit_diff_actual_vs_flipped': entry['unit_diff_actual_vs_flipped'],
        'laion_features_torch_vs_clapset_features_torch_max_abs_diff_unit': pipeline,
    })
out['laion_features_vs_clapset_features_max_abs_diff_unit'] = worst_pipeline
json.dump(out, open(f'{fixture}/embeddings.json', 'w'), indent=1)
print(f"fixture: onnx vs torch {report['max_abs_diff_unit']:.3g}, LAION-features pipeline vs clapset-features pipeline {worst_pipeline:.3g} (unit embeddings)")
PYEOF
ls -l "$FIXTURE" "$FIXTURE/model" "$FIXTURE/model/onnx"
