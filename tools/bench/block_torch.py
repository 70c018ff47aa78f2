"""PyTorch side of `npm run bench:block`: one Llama decoder block, forward + backward, on CPU.

Written with the primitives of PyTorch 1.13 (Debian's python3-torch), which has no fused
scaled_dot_product_attention: attention is q @ k^T, causal mask, softmax, @ v, the way
Hugging Face's eager LlamaAttention computes it. Prints one JSON line with the timings.
"""
import json
import math
import sys
import time

import torch

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
B, T, C = cfg["batch"], cfg["seq"], cfg["hidden"]
H, KV, F = cfg["heads"], cfg["kv_heads"], cfg["intermediate"]
D = C // H
eps = 1e-5


def w(rows, cols):
    return (torch.randn(rows, cols) * 0.02).requires_grad_()


params = {
    "attn_norm": torch.ones(C, requires_grad=True),
    "wq": w(H * D, C), "wk": w(KV * D, C), "wv": w(KV * D, C), "wo": w(C, H * D),
    "mlp_norm": torch.ones(C, requires_grad=True),
    "w_gate": w(F, C), "w_up": w(F, C), "w_down": w(C, F),
}
inv_freq = 1.0 / (10000.0 ** (torch.arange(0, D, 2, dtype=torch.float32) / D))
pos = torch.arange(T, dtype=torch.float32)
freqs = torch.outer(pos, inv_freq)
emb = torch.cat([freqs, freqs], dim=-1)
cos, sin = emb.cos()[None, None], emb.sin()[None, None]
mask = torch.full((T, T), float("-inf")).triu(1)


def rms_norm(x, weight):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    return torch.cat((-x2, x1), dim=-1)


def block(x, p):
    h = rms_norm(x, p["attn_norm"])
    q = (h @ p["wq"].t()).view(B, T, H, D).transpose(1, 2)
    k = (h @ p["wk"].t()).view(B, T, KV, D).transpose(1, 2)
    v = (h @ p["wv"].t()).view(B, T, KV, D).transpose(1, 2)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    k = k.repeat_interleave(H // KV, dim=1)
    v = v.repeat_interleave(H // KV, dim=1)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(D) + mask
    attn = torch.softmax(scores, dim=-1) @ v
    x = x + attn.transpose(1, 2).reshape(B, T, C) @ p["wo"].t()
    h2 = rms_norm(x, p["mlp_norm"])
    mlp = (torch.nn.functional.silu(h2 @ p["w_gate"].t()) * (h2 @ p["w_up"].t())) @ p["w_down"].t()
    return x + mlp


x = torch.randn(B, T, C, requires_grad=True)
times = []
for i in range(cfg["warmup"] + cfg["reps"]):
    for t in list(params.values()) + [x]:
        t.grad = None
    start = time.perf_counter()
    out = block(x, params)
    out.sum().backward()
    elapsed = time.perf_counter() - start
    if i >= cfg["warmup"]:
        times.append(elapsed)
times.sort()
print(json.dumps({"median_ms": times[len(times) // 2] * 1000, "times_ms": [t * 1000 for t in times],
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
