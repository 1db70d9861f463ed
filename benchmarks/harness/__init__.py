"""What every benchmark row shares: timing, rows and table, processes, the old column.

Kept importable by the old distribution's interpreter (``benchmarks.celery.old_driver``):
this package imports nothing on import, and the modules that driver uses
(``timing``, ``remote``, ``work``, ``calls``, ``spakky_app``) import only the
standard library, Celery, redis-py and Spakky packages both environments have.
"""
