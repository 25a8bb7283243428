"""Runs two commands alternately (A B A B …) and reports the median ratio of their
throughputs with its range. This machine's speed drifts by tens of percent within half an
hour, so halves measured one after the other are not comparable; pairs run back to back are.

usage: paired.py PAIRS NAME_A REGEX_A NAME_B REGEX_B -- COMMAND_A... -- COMMAND_B...
Each REGEX has one group: the figure (higher is better) in that command's output; "{n}" in
a command is replaced by the pair's number."""

import re
import statistics
import subprocess
import sys


def figure(command, pattern):
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    text = output.stdout + output.stderr
    match = re.search(pattern, text)
    if not match:
        raise SystemExit(f"no figure matching {pattern!r} in the output of {command[0]}:\n{text[-2000:]}")
    return float(match.group(1)), text


def main():
    pairs, name_a, regex_a, name_b, regex_b = int(sys.argv[1]), *sys.argv[2:6]
    rest = sys.argv[6:]
    split = [index for index, word in enumerate(rest) if word == "--"]
    if len(split) != 2:
        raise SystemExit(__doc__)
    command_a, command_b = rest[split[0] + 1:split[1]], rest[split[1] + 1:]
    ratios, figures_a, figures_b = [], [], []
    last_a = ""
    for pair in range(pairs):
        # "{n}" in a command becomes the pair's number (a fresh data folder per run, say).
        a, last_a = figure([word.replace("{n}", str(pair)) for word in command_a], regex_a)
        b, _ = figure([word.replace("{n}", str(pair)) for word in command_b], regex_b)
        figures_a.append(a)
        figures_b.append(b)
        ratios.append(a / b)
    print("\n".join(line for line in last_a.strip().splitlines() if not line.startswith("libvips ")))
    print(f"{name_a}: {', '.join(f'{x:.1f}' for x in figures_a)}; {name_b}: {', '.join(f'{x:.1f}' for x in figures_b)}")
    print(f"ratio: {name_a} / {name_b} = {statistics.median(ratios):.2f}× median of {pairs} interleaved pairs "
          f"(range {min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
