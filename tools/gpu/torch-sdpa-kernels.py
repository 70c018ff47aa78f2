# Lists the CUDA kernels PyTorch's scaled_dot_product_attention runs at bench:gpu's attention
# shape (bf16, causal, B 4, T 2048, 16 heads of 128), with their GPU time per call: which
# backend the peer uses and how its time splits between forward, backward and helpers.
#   python3 tools/gpu/torch-sdpa-kernels.py
import torch
from torch.profiler import profile, ProfilerActivity

B, T, H, D = 4, 2048, 16, 128
q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
g = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)

def step():
    torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).backward(g)
    q.grad = k.grad = v.grad = None

for _ in range(5):
    step()
torch.cuda.synchronize()
calls = 10
with profile(activities=[ProfilerActivity.CUDA]) as prof:
    for _ in range(calls):
        step()
    torch.cuda.synchronize()
print(torch.__version__, torch.cuda.get_device_name())
for e in sorted(prof.key_averages(), key=lambda e: -e.device_time_total):
    if e.device_time_total > 0:
        print(f"{e.device_time_total / calls / 1e3:8.3f} ms/call  x{e.count // calls}  {e.key[:140]}")
