"""``email2chat simulate``: the pipeline locally (moto + the Genesys emulator), JSON and HTML results.

Modules: ``scenario`` (the JSON-lines format and the built-in default), ``pipeline`` (the stack, the emulator
and the queue driver), ``results`` (the JSON result), ``console`` (progress bar, summary table), ``report``
(the HTML page), ``cli`` (the subcommand).
"""
