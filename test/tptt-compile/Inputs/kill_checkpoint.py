"""Kills a resumed `EXE train` at each rename and at each fsync it makes (strace's fault
injection), in turn, then resumes the killed run once more: every such run must end with the
checkpoint of an uninterrupted run, bit for bit, and no stale copy beside it. A kill that left no
`checkpoint/` (between the two renames of a save) is resumed into a new run directory (--save),
and the killed run must be repaired too.

    kill_checkpoint.py EXE DATA WORKDIR
"""

import filecmp
import itertools
import os
import shutil
import subprocess
import sys

exe, data, work = sys.argv[1:4]
COMMON = ["train", "--data", data, "--batch", "2", "--seq-len", "16", "--schedule", "constant"]


def train(steps, *flags, prefix=()):
    return subprocess.run([*prefix, exe, *COMMON, "--steps", str(steps), *flags], capture_output=True, text=True)


def check(done, what):
    if done.returncode != 0:
        sys.exit(f"{what}: exit {done.returncode}\n{done.stderr}")


straight, base = os.path.join(work, "straight"), os.path.join(work, "base")
check(train(8, "--save", straight), "the uninterrupted run")
check(train(4, "--save", base), "the run to resume")
kills = gaps = 0
for call in ("rename", "fsync"):
    for when in itertools.count(1):
        run = os.path.join(work, f"{call}-{when}")
        shutil.copytree(base, run)
        killed = train(8, "--resume", run, prefix=["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                                                    "-e", f"inject={call}:signal=KILL:when={when}"])
        if killed.returncode == 0:
            break  # past the run's last such call
        target = run
        if not os.path.isdir(os.path.join(run, "checkpoint")):
            target = run + "-next"
            gaps += 1
        check(train(8, "--resume", run, "--save", target), f"resuming after a kill at {call} {when}")
        if not os.path.isdir(os.path.join(target, "checkpoint")):
            target = run  # the repaired run had finished: nothing was left to train
        for name in ("adapter_model.safetensors", "optimizer.safetensors"):
            if not filecmp.cmp(os.path.join(straight, "checkpoint", name), os.path.join(target, "checkpoint", name),
                               shallow=False):
                sys.exit(f"after a kill at {call} {when}: {name} differs from the uninterrupted run's")
        for directory in {run, target}:
            stale = [name for name in os.listdir(directory) if ".tmp-" in name or ".old-" in name]
            if stale:
                sys.exit(f"after a kill at {call} {when}: stale copies {stale} in {directory}")
        if not os.path.isfile(os.path.join(run, "checkpoint", "trainer_state.json")):
            sys.exit(f"after a kill at {call} {when}: the killed run has no checkpoint/")
        kills += 1
print(f"killed {kills} runs at a rename or an fsync; each resumed to the uninterrupted checkpoint; "
      f"{gaps} left no checkpoint/ and were repaired")
