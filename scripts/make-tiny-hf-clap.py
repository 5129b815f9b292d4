#!/usr/bin/env python3
"""Write a shrunken, randomly initialised *fused* CLAP in transformers' format (ClapModel with
audio_config.enable_fusion, plus a ClapProcessor), to run `export-clap-onnx.py hf` on where no real
checkpoint can be fetched. Weights are seeded and mean nothing.

Usage: make-tiny-hf-clap.py <out-dir> --tokenizer-dir <folder with a RoBERTa-style tokenizer.json>
       [--seed 1] [--projection-dim 128] [--full-size]
(clapset's forge writes one: node --import tsx demo/forge/clap.ts /tmp/forge --fused)
Needs torch and transformers.
"""
import argparse
import json
import os

import torch
from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizerFast


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--tokenizer-dir', required=True)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--projection-dim', type=int, default=128, help='joint embedding size (real CLAP: 512)')
    parser.add_argument('--full-size', action='store_true',
                        help="transformers' default ClapConfig (= laion/clap-htsat-fused's sizes: HTSAT-tiny 96 wide, depths "
                             "[2, 2, 6, 2], RoBERTa-base text, projection 512) instead of the shrunken one; vocab from the tokenizer")
    args = parser.parse_args()
    tokenizer = RobertaTokenizerFast(tokenizer_file=os.path.join(args.tokenizer_dir, 'tokenizer.json'),
                                     bos_token='<s>', eos_token='</s>', sep_token='</s>', cls_token='<s>',
                                     unk_token='<unk>', pad_token='<pad>', mask_token='<mask>')
    small = ClapConfig(
        text_config={'vocab_size': len(tokenizer), 'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 2,
                     'intermediate_size': 64, 'max_position_embeddings': 80, 'projection_dim': args.projection_dim},
        audio_config={'enable_fusion': True, 'fusion_type': 'aff_2d', 'patch_embeds_hidden_size': 8, 'depths': [1, 2, 2, 2],
                      'num_attention_heads': [2, 2, 4, 4], 'hidden_size': 64, 'projection_dim': args.projection_dim},
        projection_dim=args.projection_dim)
    full = ClapConfig(text_config={'vocab_size': len(tokenizer)}, audio_config={'enable_fusion': True, 'fusion_type': 'aff_2d'})
    config = full if args.full_size else small
    torch.manual_seed(args.seed)
    model = ClapModel(config).eval()
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.weight[0].numel() ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        bn0 = model.audio_model.audio_encoder.batch_norm  # LAION's bn0: per-mel-bin statistics of log-mel dB
        bn0.running_mean.copy_(-45 + 10 * torch.randn(bn0.running_mean.shape, generator=g))
        bn0.running_var.copy_((20 + 5 * torch.rand(bn0.running_var.shape, generator=g)) ** 2)
    model.save_pretrained(args.out)
    extractor = ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=480, max_length_s=10, fft_window_size=1024,
                                     padding_value=0.0, return_attention_mask=False, frequency_min=50, frequency_max=14000,
                                     top_db=None, truncation='fusion', padding='repeatpad')
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(args.out)
    print(json.dumps({'out': args.out, 'files': sorted(os.listdir(args.out))}))


if __name__ == '__main__':
    main()
