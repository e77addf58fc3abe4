"""Tools around crawls: measuring, comparing, benchmarking, recording and demo sites.

* :mod:`.measure`: one measured run; :mod:`.compare`: several modes side by side;
  :mod:`.bench`: built-in workloads and the tutorial's claims; :mod:`.report`: tables,
  report.md and charts;
* :mod:`.warc`: record a crawl to WARC and replay it on loopback;
* :mod:`.demo` and :mod:`.shop`: the demo site and the shop served on 127.0.0.1, on
  the loopback server base of :mod:`.servers`; :mod:`.bench_spiders`: the spiders
  the workloads run.

The core never imports this package; only the command line does.
"""
