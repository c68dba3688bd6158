"""Experiments beside the product: each script reproduces rows of models/EXPERIMENTS.md.

Run from the checkout root: `python -m research.<name>` (needs `pip install -e '.[server,train]'`).
"""
