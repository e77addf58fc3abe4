"""The HTTP clients the strategies fetch with, and what they share.

* :mod:`.sync`: requests (``sync``, ``threaded``, ``threadpool``);
* :mod:`.aio`: aiohttp (``async``, ``multiprocess``);
* :mod:`.green`: geventhttpclient (``gevent``, in its patched child process);
* :mod:`.outgoing`: what every client puts on the wire for a Request (the target
  as spelled, the headers over the crawl's defaults, the framing);
* :mod:`.errors`: library exceptions to the failure reasons records carry;
* :mod:`.codings`: bounded decompression; :mod:`.netguard`: the SSRF guard;
  the CA-bundle rule they all follow is :mod:`crawlkit.tls`.

This layer knows requests and results, never the engine, the frontier or a fetcher.
"""
