"""PyTorch side of `npm run bench:train`: the same Llama, weights and batch as our side
(read from the Hugging Face folder train-model.ts wrote), full finetune steps on CPU:
forward, next-token cross-entropy, backward, clip_grad_norm_, AdamW (decoupled weight decay,
none on norms). Plain PyTorch 1.13 (Debian's python3-torch, no transformers): attention is
computed as Hugging Face's eager LlamaAttention does (q @ k^T, causal mask, softmax, @ v).
Prints one JSON line with the step times, the first loss and the peak RSS.
"""
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
folder, B, T = cfg["dir"], cfg["batch"], cfg["seq"]
mc = json.load(open(os.path.join(folder, "config.json")))
C, L, H = mc["hidden_size"], mc["num_hidden_layers"], mc["num_attention_heads"]
D, eps = C // H, mc["rms_norm_eps"]


def read_safetensors(path):
    # The format is an 8-byte little-endian header length, a JSON header, then raw data.
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        start, end = info["data_offsets"]
        out[name] = torch.frombuffer(body, dtype=torch.float32, count=(end - start) // 4, offset=start).reshape(info["shape"]).clone()
    return out


params = {k: v.requires_grad_() for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
ids = torch.frombuffer(bytearray(open(os.path.join(folder, f"ids-{B}x{T}.bin"), "rb").read()), dtype=torch.int32).reshape(B, T).long()

inv_freq = 1.0 / (mc["rope_theta"] ** (torch.arange(0, D, 2).float() / D))
angles = torch.outer(torch.arange(T).float(), inv_freq)
cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
mask = torch.full((T, T), float("-inf")).triu(1)


def rms_norm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


def forward(ids):
    x = F.embedding(ids, params["model.embed_tokens.weight"])
    for l in range(L):
        p = lambda n: params[f"model.layers.{l}.{n}.weight"]
        h = rms_norm(x, p("input_layernorm"))
        q, k, v = (F.linear(h, p(f"self_attn.{n}_proj")).view(B, T, H, D).transpose(1, 2) for n in "qkv")
        q, k = q * cos + rotate(q) * sin, k * cos + rotate(k) * sin
        scores = q @ k.transpose(-1, -2) / math.sqrt(D) + mask
        a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(a, p("self_attn.o_proj"))
        h = rms_norm(x, p("post_attention_layernorm"))
        x = x + F.linear(F.silu(F.linear(h, p("mlp.gate_proj"))) * F.linear(h, p("mlp.up_proj")), p("mlp.down_proj"))
    x = rms_norm(x, params["model.norm.weight"])
    return F.linear(x, params["model.embed_tokens.weight"])


decay = [t for n, t in params.items() if not n.endswith("norm.weight")]
no_decay = [t for n, t in params.items() if n.endswith("norm.weight")]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
times, first_loss = [], None
for i in range(cfg["warmup"] + cfg["reps"]):
    start = time.perf_counter()
    logits = forward(ids)
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    if i == 0:
        first_loss = loss.item()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if i >= cfg["warmup"]:
        times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"times": times, "firstLoss": first_loss, "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "threads": torch.get_num_threads(), "torch": torch.__version__}))
