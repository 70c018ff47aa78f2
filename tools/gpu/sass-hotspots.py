"""Where a kernel's instructions and stalls go, from Nsight Compute's per-instruction CSV
(`NCU_SOURCE=1 GPU_STAGES=ncu bash tools/gpu/run-on-device.sh` writes ncu-src-<kernel>.csv):
the share of executed instructions and of warp stall samples by opcode, by 2 KiB region of the
code (a loop's phases: tile copies, products, softmax, stores), and the instructions with the
most stall samples (a stall is sampled at the instruction that waits to issue).

    python3 tools/gpu/sass-hotspots.py ncu-src-forward_wgmma.csv [--top 25]
"""
import argparse
import collections
import csv


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    rows = list(csv.reader(open(args.csv, newline="")))
    header_at = next((i for i, r in enumerate(rows) if r and r[0] == "Address"), None)
    if header_at is None:
        raise SystemExit(f"{args.csv}: no 'Address' header row; is it ncu --page source --csv output?")
    header = rows[header_at]
    source = header.index("Source")
    samples = header.index("Warp Stall Sampling (All Samples)")
    executed = header.index("Instructions Executed")
    code = [r for r in rows[header_at + 1 :] if len(r) > max(source, samples, executed)]
    total_exec = sum(number(r[executed]) for r in code) or 1.0
    total_samples = sum(number(r[samples]) for r in code) or 1.0
    print(f"{len(code)} instructions, {total_exec:,.0f} executed (warp level), {total_samples:,.0f} stall samples")

    by_op = collections.defaultdict(lambda: [0.0, 0.0])
    by_region = collections.OrderedDict()
    for r in code:
        words = r[source].split()
        op = (words[1] if words and words[0].startswith("@") and len(words) > 1 else words[0] if words else "?").split(".")[0]
        by_op[op][0] += number(r[executed])
        by_op[op][1] += number(r[samples])
        region = by_region.setdefault(int(r[0], 16) // 0x800, [r[0], 0.0, 0.0])
        region[1] += number(r[executed])
        region[2] += number(r[samples])
    print("\nby opcode (executed %, samples %):")
    for op, (e, s) in sorted(by_op.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"  {op:14s} {100 * e / total_exec:5.1f}  {100 * s / total_samples:5.1f}")
    print("\nby 2 KiB region from its first address (executed %, samples %), regions above 1%:")
    for first, e, s in by_region.values():
        if e / total_exec > 0.01 or s / total_samples > 0.01:
            print(f"  {first}  {100 * e / total_exec:5.1f}  {100 * s / total_samples:5.1f}")
    print("\nmost stall samples:")
    for r in sorted(code, key=lambda r: -number(r[samples]))[: args.top]:
        print(f"  {r[0]}  {number(r[samples]):7.0f}  {r[source][:100]}")


if __name__ == "__main__":
    main()
