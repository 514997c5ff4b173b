"""The one seam between sources and checks, with no Textual in it.

* `collector`: observations, series and findings per profile, plus the shared collector;
* `scheduler`: one due time per source, refresh without overlap, the asyncio poll loop;
* `build`: the pipeline of a config, from the sources the registered checks declare;
* `memory`: what headless `check` keeps between runs (tips and counters).
"""
