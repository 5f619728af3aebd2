"""Delivery: bulletins to receivers, store and play, proven by receipts.

`plan` resolves targets and chooses the topics; the engine (later modules) signs the
commands, publishes the audio once per group, answers repairs and applies receipts.
"""
