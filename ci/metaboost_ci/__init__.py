"""metaboost-ci: Metaboost's release pipeline as Python code on Dagger.

The package is layered so that what needs no container engine never imports
Dagger: ``core`` (the release core), ``cli`` (the command line), and
``engine`` (the Dagger module, the only place that imports ``dagger``).
"""
