"""Runs a command and prints its stderr and `status: N`, for FileCheck."""
import subprocess
import sys

done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stdout.write(done.stderr)
print(f"status: {done.returncode}")
