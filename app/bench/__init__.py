"""`flashsale bench`: the purchase path and the order pipeline measured against the same machine's ceiling.

One module a job: `system` starts and stops the processes in the bench's own namespace, `scenarios` says what
runs, `wrk` drives the load generator (with `bench.lua`), `measure` reads the stores, `stats` does the pure math,
`report` writes Markdown and JSON, `plots` the figures, `runner` puts them together."""
