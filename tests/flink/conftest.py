"""pytest settings for ``tests/flink``.

``run_flink_sql.py`` runs under ``.venv-flink/bin/python`` only: it imports ``pyflink``, which the
main environment does not have, so ``--doctest-modules`` must not import it.
"""

collect_ignore = ["run_flink_sql.py"]
