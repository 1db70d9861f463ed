"""An order service on spakky-celery: e-mails, a flaky carrier, a nightly report, refunds.

Run the scripted demo with ``python -m uv run --directory examples python -m orders``.
"""
