#!/usr/bin/env python3
"""Convert a dictionary_learning (saprmarks/dictionary_learning) checkpoint to a SAELens v6 folder.

    python3 scripts/convert_dictionary_learning.py path/to/ae.pt OUT_DIR [--config path/to/config.json]

dictionary_learning saves `ae.pt`, a pickled PyTorch state dict. sparsecode never unpickles files
(a pickle can run code), so this one-off conversion runs in Python, where you already trust the
file. It loads the state dict with `torch.load(..., weights_only=True)` (tensors only, no code),
and writes OUT_DIR/cfg.json + OUT_DIR/sae_weights.safetensors in the SAELens v6 layout that
`sparsecode` (and SAELens >= 6) read:

  dictionary class (recognised by its tensors)      written as
  AutoEncoder      encoder.weight [F,D], encoder.bias, decoder.weight [D,F], bias [D]
                                                    standard: relu((x - bias) W_enc + b_enc)
  AutoEncoderTopK  encoder.*, decoder.weight, b_dec, k (+ threshold, unused by its default encode)
                                                    topk with k (the same tensors as BatchTopKSAE: the
                                                    class comes from config.json's trainer.dict_class
                                                    or --dict-class)
  BatchTopKSAE     encoder.*, decoder.weight, b_dec, k, threshold (scalar)
                                                    jumprelu, threshold repeated over the latents
                                                    (its inference encode: relu(pre) * (relu(pre) > threshold))
  MatryoshkaBatchTopKSAE  W_enc [D,F], b_enc, W_dec [F,D], b_dec, k, threshold, group_sizes
                                                    jumprelu, as BatchTopKSAE
  JumpReluAutoEncoder     W_enc [D,F], b_enc, W_dec [F,D], b_dec, threshold [F]
                                                    jumprelu with apply_b_dec_to_input false; its
                                                    codes are relu(pre * (pre > threshold)) * ||W_dec row||
                                                    and decode divides by the norm, so the norms are
                                                    folded: W_enc, b_enc, threshold times the norm,
                                                    W_dec rows unit (SAELens fold_W_dec_norm)
  GatedAutoEncoder, crosscoders                     refused (not supported by sparsecode)

A BatchTopK/Matryoshka threshold below 0 means "never estimated": refused, since without it the
model would be a plain ReLU. A `config.json` next to ae.pt (or --config) supplies model_name,
hook and layer metadata, and `norm_factor` if the trainer normalised activations: the
activations were divided by norm_factor during training and the trainer's scale_biases already
rescaled the biases, so nothing is folded for it; pass the unnormalised activations. Only float
tensors are written (F32).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch


def save_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def arr(sd, name):
    return sd[name].detach().to(torch.float32).cpu().numpy()


def convert(sd, trainer_cfg=None):
    """State dict -> (cfg fields, tensors in SAELens layout, a one-line description)."""
    keys = set(sd.keys())
    if "r_mag" in keys or "gate_bias" in keys:
        raise SystemExit("a GatedAutoEncoder: gated SAEs are not supported by sparsecode")
    if "W_enc" in keys:  # JumpReluAutoEncoder or MatryoshkaBatchTopKSAE
        W_enc, b_enc, W_dec, b_dec = arr(sd, "W_enc"), arr(sd, "b_enc"), arr(sd, "W_dec"), arr(sd, "b_dec")
        if "group_sizes" in keys or ("k" in keys and sd["threshold"].dim() == 0):
            t = float(sd["threshold"])
            if t < 0:
                raise SystemExit("MatryoshkaBatchTopKSAE with threshold < 0 (never estimated); refusing: the model would be a plain ReLU")
            cfg = {"architecture": "jumprelu", "apply_b_dec_to_input": True}
            return cfg, {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": np.full(W_enc.shape[1], t, np.float32)}, "MatryoshkaBatchTopKSAE -> jumprelu"
        th = arr(sd, "threshold")
        n = np.linalg.norm(W_dec.astype(np.float64), axis=1)
        keep = n > 0
        s = np.where(keep, n, 1.0)
        W_enc = (W_enc * s[None, :]).astype(np.float32)
        b_enc = (b_enc * s).astype(np.float32)
        th = (th * s).astype(np.float32)
        W_dec = (W_dec / s[:, None]).astype(np.float32)
        cfg = {"architecture": "jumprelu", "apply_b_dec_to_input": False}
        return cfg, {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec, "threshold": th}, "JumpReluAutoEncoder -> jumprelu (decoder norms folded)"
    if "encoder.weight" not in keys or "decoder.weight" not in keys:
        raise SystemExit(f"unrecognised state dict (tensors: {sorted(keys)})")
    W_enc = arr(sd, "encoder.weight").T  # [F, D] -> [D, F]
    W_dec = arr(sd, "decoder.weight").T  # [D, F] -> [F, D]
    b_enc = arr(sd, "encoder.bias")
    if "b_dec" in keys:
        b_dec = arr(sd, "b_dec")
    elif "bias" in keys:
        b_dec = arr(sd, "bias")
    else:
        raise SystemExit("no decoder bias (b_dec or bias) in the state dict")
    tensors = {"W_enc": np.ascontiguousarray(W_enc), "b_enc": b_enc, "W_dec": np.ascontiguousarray(W_dec), "b_dec": b_dec}
    if "k" in keys:
        k = int(sd["k"])
        cls = (trainer_cfg or {}).get("dict_class")
        if cls not in ("AutoEncoderTopK", "BatchTopKSAE"):
            raise SystemExit("this state dict (encoder.*, decoder.weight, b_dec, k, threshold) is an AutoEncoderTopK or a BatchTopKSAE, "
                             "which encode differently; config.json does not say which: pass --dict-class AutoEncoderTopK or BatchTopKSAE")
        if cls == "BatchTopKSAE":
            t = float(sd["threshold"])
            if t < 0:
                raise SystemExit("BatchTopKSAE with threshold < 0 (never estimated); refusing: the model would be a plain ReLU")
            tensors["threshold"] = np.full(W_enc.shape[1], t, np.float32)
            return {"architecture": "jumprelu", "apply_b_dec_to_input": True}, tensors, "BatchTopKSAE -> jumprelu"
        return {"architecture": "topk", "k": k, "rescale_acts_by_decoder_norm": False, "apply_b_dec_to_input": True}, tensors, "AutoEncoderTopK -> topk"
    return {"architecture": "standard", "apply_b_dec_to_input": True}, tensors, "AutoEncoder -> standard"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ae_pt")
    p.add_argument("out_dir")
    p.add_argument("--config", help="the trainer's config.json (default: next to ae.pt)")
    p.add_argument("--dict-class", help="AutoEncoder | AutoEncoderTopK | BatchTopKSAE | MatryoshkaBatchTopKSAE | JumpReluAutoEncoder (default: from config.json, else from the tensors)")
    a = p.parse_args()
    sd = torch.load(a.ae_pt, map_location="cpu", weights_only=True)
    if not isinstance(sd, dict):
        raise SystemExit(f"{a.ae_pt}: expected a state dict, got {type(sd).__name__}")
    cfg_path = a.config or os.path.join(os.path.dirname(os.path.abspath(a.ae_pt)), "config.json")
    trainer = {}
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            trainer = json.load(f).get("trainer", {})
    if a.dict_class:
        trainer["dict_class"] = a.dict_class
    fields, tensors, what = convert(sd, trainer)
    d_in, d_sae = tensors["W_enc"].shape
    cfg = {
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": fields.pop("apply_b_dec_to_input"),
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": "6.0.0",
            "sae_lens_training_version": None,
            "model_name": trainer.get("lm_name"),
            "hook_name": trainer.get("submodule_name"),
            "hook_layer": trainer.get("layer"),
            "converted_from": "dictionary_learning " + (trainer.get("dict_class") or what.split(" ")[0]),
        },
    }
    cfg.update(fields)
    os.makedirs(a.out_dir, exist_ok=True)
    save_safetensors(os.path.join(a.out_dir, "sae_weights.safetensors"), tensors)
    with open(os.path.join(a.out_dir, "cfg.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    print(f"{a.ae_pt}: {what}, d_in {d_in}, d_sae {d_sae} -> {a.out_dir}")


if __name__ == "__main__":
    sys.exit(main())
