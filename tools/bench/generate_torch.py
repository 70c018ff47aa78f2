"""The PyTorch eager side of `npm run bench:generate`.

The model of generate_llama.py (Hugging Face's eager Llama in plain torch, since Debian's
python3-torch has no transformers) loaded from the benchmark's model.safetensors, timed with
the same greedy loop as the JavaScript engines (tools/bench/generate-measure.ts): the prompt's
forward pass, an argmax, then newTokens - 1 steps of one token per sequence with the cache
grown by concatenation, as transformers' eager decoding does.

Argument: the JSON request of generate-protocol.ts. Prints one JSON line (EngineResult).
"""
import json
import sys
import time

import torch

from generate_llama import load_llama

request = json.loads(sys.argv[1])
torch.set_num_threads(request["threads"])
torch.set_num_interop_threads(1)
config, model = load_llama(request["folder"])
dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[request["dtype"]]
model = model.to(dtype)


def generate(batch, new_tokens):
    ids = torch.tensor(request["prompts"][:batch], dtype=torch.int64)
    past = [t.to(dtype) for t in model.empty_cache(batch)]
    tokens = [[] for _ in range(batch)]
    start = time.perf_counter()
    out = model(ids, *past)
    # logits: (B, T, V) -> the last position of each sequence (B, V)
    logits = out[0][:, -1].float()
    prefilled = time.perf_counter()
    nxt = logits.argmax(-1)
    first = time.perf_counter()
    first_logits = logits[0].tolist()
    for b, t in enumerate(nxt.tolist()):
        tokens[b].append(t)
    past = out[1:]
    for _ in range(1, new_tokens):
        out = model(nxt[:, None], *past)
        logits = out[0][:, -1].float()
        nxt = logits.argmax(-1)
        past = out[1:]
        for b, t in enumerate(nxt.tolist()):
            tokens[b].append(t)
    done = time.perf_counter()
    times = {"batch": batch, "prefillMs": (prefilled - start) * 1e3, "ttftMs": (first - start) * 1e3, "decodeMs": (done - first) * 1e3}
    parity = {"tokens": tokens, "firstLogits": first_logits, "lastLogits": logits[0].tolist()}
    return times, parity


result = {"engine": f"pytorch {request['dtype']}", "version": f"torch {torch.__version__} eager", "threads": torch.get_num_threads()}
with torch.inference_mode():
    if request["mode"] == "parity":
        _, result["parity"] = generate(max(request["batches"]), request["newTokens"])
    else:
        runs = []
        for rep in range(request["warmup"] + request["reps"]):
            for batch in request["batches"]:
                times, _ = generate(batch, request["newTokens"])
                if rep >= request["warmup"]:
                    runs.append(times)
        result["runs"] = runs
print(json.dumps(result))
