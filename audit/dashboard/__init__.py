"""The admin dashboard: charts of the audit trail over whole UTC days, read from daily rollups.

``period`` parses what the page asks for, ``sources`` reads grouped figures (from the rollup
tables, or straight from the audit tables as the baseline and the tests' oracle), ``figures``
turns them into the JSON the page draws, and ``views`` are the two admin pages.
"""
