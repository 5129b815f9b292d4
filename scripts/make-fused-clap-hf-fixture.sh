#!/bin/sh
# Regenerates test/fixtures/fused-clap-hf/: the `hf` path of export-clap-onnx.py (the one real
# checkpoints take) on a shrunken, randomly initialised fused ClapModel in transformers' format
# (scripts/make-tiny-hf-clap.py; tokenizer: the forge's RoBERTa-style BPE), with PyTorch's audio
# embeddings of the fused-clap clips (clapset's features) and text embeddings of a few captions.
# Needs a Python with torch and transformers (PYTHON=...; Debian has no transformers package: e.g. a
# venv with `pip install torch transformers onnx onnxruntime`), and node.
# Usage: PYTHON=/path/to/python scripts/make-fused-clap-hf-fixture.sh
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
FIXTURE=test/fixtures/fused-clap-hf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

node --import tsx test/fixtures/fused-clap/write-inputs.ts "$tmp" > /dev/null
for name in clip-3s clip-10s clip-37s; do
  seed=$(node -e "console.log(require('$tmp/clips.json').find((c) => c.name === '$name').seed)")
  CLAPSET_FROM_SOURCE=1 node bin/clapset features "$tmp/$name.wav" --out "$tmp/$name.npy" --truncation fusion --seed "$seed" > /dev/null
done
node --import tsx demo/forge/clap.ts "$tmp/forge" --fused > /dev/null
"$PY" scripts/make-tiny-hf-clap.py "$tmp/hf" --tokenizer-dir "$tmp/forge" --seed 1 > /dev/null 2>&1

rm -rf "$FIXTURE/model"
"$PY" scripts/export-clap-onnx.py hf "$tmp/hf" --out "$FIXTURE/model" \
  --check "$tmp/clip-3s.npy" "$tmp/clip-10s.npy" "$tmp/clip-37s.npy" \
  --check-text 'a dog barks in the distance' 'rain' 'a car engine starts and a horn honks loudly twice' \
  --report "$tmp/report.json" 2> "$tmp/export.log" || { cat "$tmp/export.log"; exit 1; }

"$PY" - "$tmp" "$FIXTURE" <<'PYEOF'
import hashlib, json, sys
import torch, transformers
tmp, fixture = sys.argv[1], sys.argv[2]
clips = json.load(open(f'{tmp}/clips.json'))
report = json.load(open(f'{tmp}/report.json'))
r9 = lambda xs: [float(f'{x:.9g}') for x in xs]
out = {
    'what': 'transformers ClapModel (fused, shrunken, random weights; scripts/make-tiny-hf-clap.py) exported by export-clap-onnx.py hf; PyTorch embeddings of clapset features and of captions',
    'torch': torch.__version__, 'transformers': transformers.__version__, 'onnx_check_runtime': report['runtime'],
    'onnx_vs_torch_max_abs_diff_unit': report['max_abs_diff_unit'], 'onnx_vs_torch_batches': report['batches'],
    'clips': [], 'texts': [],
}
for clip, entry in zip(clips, report['clips']):
    out['clips'].append({
        'name': clip['name'], 'seed': clip['seed'],
        'clapset_features_npy_sha256': hashlib.sha256(open(f"{tmp}/{clip['name']}.npy", 'rb').read()).hexdigest(),
        'is_longer': entry['actual']['is_longer'], 'torch_unit_embedding': r9(entry['actual']['torch_unit_embedding']),
        'onnx_vs_torch_max_abs_diff_unit': entry['actual']['max_abs_diff_unit'],
        'flipped': {'is_longer': entry['flipped']['is_longer'], 'torch_unit_embedding': r9(entry['flipped']['torch_unit_embedding'])},
        'unit_diff_actual_vs_flipped': entry['unit_diff_actual_vs_flipped'],
    })
for t in report['text']['captions']:
    out['texts'].append({'text': t['text'], 'input_ids': t['input_ids'], 'torch_unit_embedding': r9(t['torch_unit_embedding']),
                         'onnx_vs_torch_max_abs_diff_unit': t['max_abs_diff_unit']})
out['text_onnx_vs_torch_max_abs_diff_unit'] = report['text']['max_abs_diff_unit']
json.dump(out, open(f'{fixture}/embeddings.json', 'w'), indent=1)
print(f"fixture: audio onnx vs torch {report['max_abs_diff_unit']:.3g}, text {report['text']['max_abs_diff_unit']:.3g} (unit embeddings)")
PYEOF
ls -l "$FIXTURE" "$FIXTURE/model" "$FIXTURE/model/onnx"
