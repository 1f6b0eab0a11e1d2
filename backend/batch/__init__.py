"""The batch app (#13): jobs that run after ingestion over what was stored — rollups, trace summaries,
fills, relations, the cross-channel dedup pass and insights.

Each job is a use case over the stores, re-runnable from where it stopped: a killed run is simply run
again. `ftel batch` runs them on a schedule in services mode (one process or several: a lease in SQL
lets one process at a time run a given job); `ftel serve` runs the same jobs in-process. Jobs are wired in
the composition root (backend/bootstrap) like every other part; `Batch` (backend/batch/runner.py) holds
them.
"""
