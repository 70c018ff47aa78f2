"""PyTorch peer of tools/bench/gpu.ts: the same measurements on the same GPU, printed as one
JSON line. Also times a LoRA (PEFT) training step of a ~1B-parameter Llama with random weights,
and, given a folder as its argument, saves that model there (bf16 safetensors) so that
LMFlow.ts trains the very same weights."""
import json
import sys
import time

import torch


def timed(fn, iterations):
    # Warm up for half a second at least, as tools/bench/gpu.ts does.
    start = time.perf_counter()
    i = 0
    while i < 3 or time.perf_counter() - start < 0.5:
        fn()
        i += 1
        if i % 8 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations * 1e3


def main():
    out = {}
    for n in (4096, 8192):
        a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
        ms = timed(lambda: a @ b, 50 if n == 4096 else 10)
        out[f"gemm_{n}_tflops"] = 2 * n**3 / (ms * 1e-3) / 1e12
    B, T, H, D = 4, 2048, 16, 128
    q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    dout = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)

    def attention():
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        y.backward(dout)
        q.grad = k.grad = v.grad = None

    out["attention_fwd_bwd_ms"] = timed(attention, 30)
    try:
        from peft import LoraConfig, get_peft_model
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=32,
                             num_key_value_heads=8, vocab_size=32000, max_position_embeddings=2048)
        torch.manual_seed(0)
        with torch.device("cuda"):  # initialising 1B parameters on the host takes minutes
            model = LlamaForCausalLM(config).to(dtype=torch.bfloat16)
        if len(sys.argv) > 1:
            model.save_pretrained(sys.argv[1], safe_serialization=True)
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        batch, seq = 4, 1024
        ids = torch.randint(0, 32000, (batch, seq), device="cuda")

        def step():
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()

        ms = timed(step, 5)
        out["lora_tokens_per_s"] = batch * seq / (ms * 1e-3)
    except Exception as error:  # noqa: BLE001 - the other measurements still count
        print(f"LoRA peer skipped: {error}", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
