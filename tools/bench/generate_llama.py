"""A Llama in plain PyTorch for `npm run bench:generate`, and the safetensors I/O it needs.

Debian's python3-torch (1.13) comes without transformers and without the safetensors package,
so both are written here: the model follows Hugging Face's eager LlamaForCausalLM (RMSNorm,
rotate_half RoPE, grouped-query attention as q @ k^T + mask, softmax, @ v, SwiGLU MLP) with
its tensor names, and its KV cache is the list of (key, value) pairs of shape
(batch, kv_heads, seq, head_dim) that transformers and ONNX exports of it use. The
safetensors format is small enough to write by hand: an 8-byte little-endian header length,
a JSON header (dtype, shape, byte offsets per tensor), then the raw little-endian data.
"""
import json
import math
import struct

import numpy as np
import torch

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64}


def hf_config(spec):
    """config.json of a LlamaForCausalLM from the benchmark's size spec."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": spec["hidden"],
        "intermediate_size": spec["intermediate"],
        "num_hidden_layers": spec["layers"],
        "num_attention_heads": spec["heads"],
        "num_key_value_heads": spec["kv_heads"],
        "vocab_size": spec["vocab"],
        "max_position_embeddings": spec["max_positions"],
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": spec["tied"],
        "bos_token_id": 1,
        "eos_token_id": 2,
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "torch_dtype": "float32",
        "use_cache": True,
    }


def random_weights(config, seed):
    """Hugging Face's Llama initialisation: N(0, initializer_range) for every matrix, norms at 1."""
    gen = torch.Generator().manual_seed(seed)
    C, F, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    H, KV = config["num_attention_heads"], config["num_key_value_heads"]
    D = C // H
    std = config["initializer_range"]

    def normal(*shape):
        return torch.randn(*shape, generator=gen) * std

    w = {"model.embed_tokens.weight": normal(V, C)}
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}"
        w[f"{p}.input_layernorm.weight"] = torch.ones(C)
        w[f"{p}.self_attn.q_proj.weight"] = normal(H * D, C)
        w[f"{p}.self_attn.k_proj.weight"] = normal(KV * D, C)
        w[f"{p}.self_attn.v_proj.weight"] = normal(KV * D, C)
        w[f"{p}.self_attn.o_proj.weight"] = normal(C, H * D)
        w[f"{p}.post_attention_layernorm.weight"] = torch.ones(C)
        w[f"{p}.mlp.gate_proj.weight"] = normal(F, C)
        w[f"{p}.mlp.up_proj.weight"] = normal(F, C)
        w[f"{p}.mlp.down_proj.weight"] = normal(C, F)
    w["model.norm.weight"] = torch.ones(C)
    if not config["tie_word_embeddings"]:
        w["lm_head.weight"] = normal(V, C)
    return w


def save_safetensors(path, tensors):
    """f32 tensors -> a safetensors file with {"format": "pt"} metadata, as transformers writes."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # The data starts 8-byte aligned (the format allows trailing spaces in the header for it).
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    """A safetensors file -> {name: f32/i32/i64 tensor}. BF16 is widened to f32 exactly."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        chunk = raw[base + begin:base + end]
        if entry["dtype"] == "BF16":
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif entry["dtype"] in _NP_DTYPES:
            array = np.frombuffer(chunk, dtype=np.dtype(_NP_DTYPES[entry["dtype"]]).newbyteorder("<")).copy()
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {entry['dtype']} is not one of BF16, F32, F16, I32, I64")
        out[name] = torch.from_numpy(np.ascontiguousarray(array)).reshape(entry["shape"])
    return out


class Llama(torch.nn.Module):
    """LlamaForCausalLM's forward with a KV cache, from Hugging Face weights.

    forward(input_ids (B, T), *past) -> (logits (B, T, V), *present), where past and present
    alternate key_i, value_i of shape (B, kv_heads, S, head_dim). Positions continue from the
    cached length, so one module serves prefill (S = 0) and decoding (T = 1).
    """

    def __init__(self, config, weights):
        super().__init__()
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config["num_key_value_heads"]
        self.head_dim = config["hidden_size"] // self.heads
        self.eps = config["rms_norm_eps"]
        D = self.head_dim
        self.register_buffer("inv_freq", 1.0 / (config["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.float32) / D)))
        self.params = torch.nn.ParameterDict()
        for name, t in weights.items():
            self.params[name.replace(".", "__")] = torch.nn.Parameter(t, requires_grad=False)
        self.tied = "lm_head.weight" not in weights

    def w(self, name):
        return self.params[name.replace(".", "__")]

    def rms_norm(self, x, weight):
        variance = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(variance + self.eps))

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    # x: (B, T, C)  B batch, T new tokens, S cached + new tokens, C hidden
    def forward(self, input_ids, *past):
        B, T = input_ids.shape
        H, KV, D = self.heads, self.kv_heads, self.head_dim
        past_len = past[0].shape[2] if past else 0
        positions = torch.arange(T, dtype=torch.float32) + past_len
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        # Query i (at position past_len + i) sees keys 0 .. past_len + i.
        key_pos = torch.arange(T + past_len, dtype=torch.float32)
        mask = torch.zeros(T, T + past_len).masked_fill(key_pos[None, :] > positions[:, None], float("-inf"))

        x = torch.nn.functional.embedding(input_ids, self.w("model.embed_tokens.weight"))
        present = []
        for i in range(self.layers):
            p = f"model.layers.{i}"
            h = self.rms_norm(x, self.w(f"{p}.input_layernorm.weight"))
            q = torch.nn.functional.linear(h, self.w(f"{p}.self_attn.q_proj.weight")).view(B, T, H, D).transpose(1, 2)
            k = torch.nn.functional.linear(h, self.w(f"{p}.self_attn.k_proj.weight")).view(B, T, KV, D).transpose(1, 2)
            v = torch.nn.functional.linear(h, self.w(f"{p}.self_attn.v_proj.weight")).view(B, T, KV, D).transpose(1, 2)
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if past:
                k = torch.cat((past[2 * i], k), dim=2)
                v = torch.cat((past[2 * i + 1], v), dim=2)
            present += [k, v]
            if KV != H:
                k = k.repeat_interleave(H // KV, dim=1)
                v = v.repeat_interleave(H // KV, dim=1)
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask
            attn = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(B, T, H * D)
            x = x + torch.nn.functional.linear(attn, self.w(f"{p}.self_attn.o_proj.weight"))
            h = self.rms_norm(x, self.w(f"{p}.post_attention_layernorm.weight"))
            gate = torch.nn.functional.linear(h, self.w(f"{p}.mlp.gate_proj.weight"))
            up = torch.nn.functional.linear(h, self.w(f"{p}.mlp.up_proj.weight"))
            x = x + torch.nn.functional.linear(torch.nn.functional.silu(gate) * up, self.w(f"{p}.mlp.down_proj.weight"))
        x = self.rms_norm(x, self.w("model.norm.weight"))
        head = self.w("model.embed_tokens.weight") if self.tied else self.w("lm_head.weight")
        return (torch.nn.functional.linear(x, head), *present)

    def empty_cache(self, batch):
        """The cache before the first token: every key and value with S = 0."""
        return [torch.zeros(batch, self.kv_heads, 0, self.head_dim) for _ in range(2 * self.layers)]


def load_llama(folder):
    """A Hugging Face Llama folder (config.json, model.safetensors) -> (config, Llama)."""
    with open(f"{folder}/config.json") as f:
        config = json.load(f)
    if config.get("model_type") != "llama":
        raise ValueError(f"{folder}/config.json: model_type is {config.get('model_type')!r}, expected 'llama'")
    config.setdefault("num_key_value_heads", config["num_attention_heads"])
    config.setdefault("rms_norm_eps", 1e-6)
    config.setdefault("rope_theta", 10000.0)
    config.setdefault("tie_word_embeddings", False)
    model = Llama(config, load_safetensors(f"{folder}/model.safetensors"))
    model.eval()
    return config, model
