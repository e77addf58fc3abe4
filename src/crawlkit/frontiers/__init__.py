"""Where the crawl keeps what to fetch next and what it has seen.

* :mod:`.base`: the :class:`~.base.Frontier` protocol the engine is typed against,
  the :class:`~.base.LinkRules` every backend applies, and the per-origin
  :class:`~.base.OriginQueues` the backends share for what they hold in memory;
* :mod:`.memory`: the in-memory frontier (the default);
* :mod:`.disk` and :mod:`.journal`: a durable crawl's queue and seen set in SQLite
  (``--state``), resumable after a crash with exactly-once output;
* :mod:`.redis`: one frontier shared by many workers (``--frontier redis://``),
  its atomic steps as Lua scripts in ``lua/``.

Frontiers never import a fetcher or the engine.
"""
