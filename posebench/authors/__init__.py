"""The authors' own pipelines, timed (``posebench bench authors``).

Each module here is a stand-alone script run by *another* Python -- the throw-away environment
that holds the authors' package or repository, as the reference scripts in ``scripts/`` build
it -- and imports nothing from posebench. It loads the authors' pipeline once, then answers on
stdin/stdout: it prints ``ready``; for every line ``pass`` it reads, it runs the pipeline once
over every image and prints one JSON line ``{"ms_per_image": float, "cpu_ms_per_image": float,
"found": int, "images": int}`` (wall and process CPU time, ``time.process_time``, per image;
images decoded before timing, as ``posebench bench`` does). The bench alternates these passes
with posebench's own, so both see the same load.
"""
