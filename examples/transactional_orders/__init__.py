"""Transactional dispatch: the order row and its confirmation e-mail commit together.

Run it with ``python -m uv run --directory examples python -m transactional_orders``.
"""
