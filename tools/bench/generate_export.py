"""Model files of `npm run bench:generate`: random Llama weights as a Hugging Face folder, and
the same weights exported to ONNX with a KV cache for onnxruntime.

Argument: one JSON object {"folder", "spec", "seed", "opset"}. Writes into folder:
  config.json, model.safetensors   (f32; our engine converts to bf16 when asked)
  model.onnx                       inputs input_ids (B, T) int64, past_key_i / past_value_i
                                   (B, kv_heads, P, head_dim); outputs logits (B, T, V),
                                   present_key_i / present_value_i (B, kv_heads, P + T, head_dim)
Batch, new tokens and past length are dynamic axes, so one graph runs the prompt (P = 0) and
every decoding step, the way transformers.js drives its decoder-with-past exports.
Prints one JSON line: the files and the parameter count.
"""
import json
import os
import sys
import warnings

import torch

from generate_llama import Llama, hf_config, random_weights, save_safetensors

cfg = json.loads(sys.argv[1])
folder = cfg["folder"]
os.makedirs(folder, exist_ok=True)
torch.set_num_threads(max(1, os.cpu_count() or 1))

config = hf_config(cfg["spec"])
weights = random_weights(config, cfg["seed"])
with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
save_safetensors(os.path.join(folder, "model.safetensors"), weights)

model = Llama(config, weights).eval()
L = config["num_hidden_layers"]
KV = config["num_key_value_heads"]
D = config["hidden_size"] // config["num_attention_heads"]
past_names = [name for i in range(L) for name in (f"past_key_{i}", f"past_value_{i}")]
present_names = [name for i in range(L) for name in (f"present_key_{i}", f"present_value_{i}")]
dynamic_axes = {"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
for name in past_names:
    dynamic_axes[name] = {0: "batch", 2: "past_sequence"}
for name in present_names:
    dynamic_axes[name] = {0: "batch", 2: "total_sequence"}

# Traced with a non-empty past, so the graph keeps the cache concatenation and the position
# offset; distinct sizes (batch 2, 3 new tokens, 5 cached) keep the tracer from tying axes.
ids = torch.randint(0, config["vocab_size"], (2, 3), dtype=torch.int64)
past = [torch.randn(2, KV, 5, D) for _ in range(2 * L)]
with torch.no_grad(), warnings.catch_warnings():
    warnings.simplefilter("ignore")  # tracer notes about shape arithmetic; the parity check proves the graph
    torch.onnx.export(
        model,
        (ids, *past),
        os.path.join(folder, "model.onnx"),
        input_names=["input_ids", *past_names],
        output_names=["logits", *present_names],
        dynamic_axes=dynamic_axes,
        opset_version=cfg["opset"],
        do_constant_folding=True,
    )

params = sum(t.numel() for t in weights.values())
print(json.dumps({"files": ["config.json", "model.safetensors", "model.onnx"], "parameters": params}))
