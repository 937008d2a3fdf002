"""``python -m fernb.train STAGE [-p NAME=VALUE ...]``: the entry point for ``torchrun``.

The same as ``fernb train STAGE`` (:func:`fernb.cli.train_stage`), printing on rank 0 only.
"""
import sys

from fernb.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
