"""``pxfast bench``: the side-by-side benchmark against project-x-py 4.4.1.

``runner`` orchestrates (simulator, feed, one worker process per client,
interleaved rounds), ``pxfast_worker`` and ``pxpy_worker`` measure, ``common``
holds what both workers share, ``feed`` replays market load, ``scenarios``
names every figure and its budget, ``report`` and ``plot`` turn the results
JSON into Markdown and a PNG.  See bench/README.md, "Side by side".
"""
