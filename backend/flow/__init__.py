"""Flow control by buffering: per-user accounting (accounting.py), parking in Redis or the disk spool
(parking.py, spool.py), and the pressure watch + fair drainer (control.py). See docs/flow.md."""
